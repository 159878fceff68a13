"""The runs of an evaluation (``--retriever`` / ``--compare``): a retriever mode and optional
Settings overrides, and the Settings each run is evaluated with."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from rag.errors import InputError
from rag.settings import Settings, coerce_setting


@dataclass(frozen=True)
class RunSpec:
    """One run of a comparison: a retriever mode and optional Settings overrides, written
    ``mode`` or ``mode:key=value:key=value`` (e.g. ``hybrid:dense_weight=0.3``)."""

    retriever: str
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return ":".join([self.retriever, *(f"{k}={v}" for k, v in self.overrides)])


def parse_run_specs(text: str) -> list[RunSpec]:
    specs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        mode, *pairs = part.split(":")
        overrides = []
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or not key:
                raise InputError(f"bad run {part!r}: write mode or mode:setting=value")
            overrides.append((key, _coerce_setting(key, value.strip())))
        specs.append(RunSpec(mode.strip(), tuple(overrides)))
    if not specs:
        raise InputError("no runs given: e.g. --compare bm25,dense,hybrid")
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise InputError(f"the same run is listed twice in {text!r}")
    return specs


def _coerce_setting(key: str, raw: str) -> Any:
    if key not in {f.name for f in fields(Settings)} or key in ("llm_api_key", "auth"):
        raise InputError(f"unknown setting {key!r} in a run spec")
    return coerce_setting(key, raw, label=key)


def apply_spec(settings: Settings, spec: RunSpec) -> Settings:
    # replace(), not with_(): an override to None (dense_weight=none) must stick.
    changed = replace(settings, retriever=spec.retriever, **dict(spec.overrides))
    changed.validate()
    return changed
