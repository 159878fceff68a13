# The two commands: `make run` (install, index seeds/, chat at http://127.0.0.1:7860) and
# `make test` (install, then the whole test suite). `make setup` is idempotent: a second run
# only checks a stamp.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-stamp
EXTRAS ?= ui,dev,ray,onnx
# CPU build of torch unless an NVIDIA GPU is present (an unpinned torch pulls GBs of CUDA).
TORCH  ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo torch || echo torch==2.13.0)
PYTEST_ARGS ?=

.PHONY: setup run test test-fast lint browser-deps clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(STAMP)

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

test: setup browser-deps
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser and not ray" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf .rag eval/out benchmarks/out .pytest_cache
