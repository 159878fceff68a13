"""The status line: the embedding model in use, the index size, the retrieval mode, and
the pipeline's standing warnings in the page's language."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ui.i18n import K, t
from ui.render.text import esc


def status_warnings(
    info: dict, lang: str = "vi", extra: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """The pipeline's standing warnings as (what it means for the reader, in ``lang``; the
    technical line, for the details toggle). The pipeline words them in English for the
    logs and the CLI; the page says what they mean in its own language."""
    out: list[tuple[str, str]] = []
    warning = info.get("warning")
    if warning:
        in_use = info.get("model_in_use")
        wanted = info.get("configured_model") or ""
        if not in_use:
            summary = t(K.warn_bm25_only, lang)
        elif "could not be loaded" in warning or (wanted and wanted != in_use):
            wanted_name = _wanted_model(warning) or wanted
            summary = t(K.warn_fallback, lang, model=short_model(in_use), wanted=wanted_name)
        else:
            summary = t(K.warn_other, lang)
        out.append((summary, warning))
    for w in extra:
        out.append((t(K.warn_rerank_off, lang), w))
    return out


def _wanted_model(warning: str) -> str | None:
    """The model the index was meant for, named in the pipeline's fallback warning."""
    m = re.search(r"because (\S+) could not be loaded", warning) or re.search(
        r"(?:model |^)(\S+) could not be loaded", warning
    )
    return short_model(m.group(1)) if m else None


def status_html(
    info: dict, lang: str = "vi", mode: str | None = None, extra_warnings: Sequence[str] = ()
) -> str:
    """One line: embedding model in use, index size, retrieval mode; below it, each standing
    warning once, in the page's language, with the technical line behind a details toggle."""
    model = info.get("model_in_use") or info.get("index_model")
    model_txt = (
        f'<code title="{esc(model)}">{esc(short_model(model))}</code>'
        if model
        else esc(t(K.status_none, lang))
    )
    if info.get("exists") and info.get("articles"):
        size = t(K.status_articles, lang, n=info.get("articles", 0), chunks=info.get("chunks", 0))
    else:
        size = t(K.status_empty, lang)
    items = [
        f"<span><b>{esc(t(K.status_model, lang))}:</b> {model_txt}</span>",
        f'<span id="rag-status-size"><b>{esc(t(K.status_index, lang))}:</b> {esc(size)}</span>',
        f"<span><b>{esc(t(K.status_mode, lang))}:</b> {esc(mode or info.get('mode') or info.get('retriever') or '')}</span>",
        f'<span><a href="docs" target="_blank" rel="noopener">{esc(t(K.api_link, lang))}</a></span>',
    ]
    warns = "".join(
        f'<details class="rag-warn"><summary>⚠ {esc(summary)} '
        f'<span class="rag-details-label">({esc(t(K.details, lang))})</span></summary>'
        f'<code class="rag-warn-detail" lang="en">{esc(detail)}</code></details>'
        for summary, detail in status_warnings(info, lang, extra_warnings)
    )
    return f'<div class="rag-status">{" · ".join(items)}</div>{warns}'


def short_model(model: str) -> str:
    """A model id as people read it: hub ids as they are, a local directory by its last two
    parts (the full path is in the tooltip)."""
    parts = [p for p in model.replace("\\", "/").split("/") if p]
    if model.startswith(("/", ".", "~")) or len(parts) > 2:
        return "…/" + "/".join(parts[-2:]) if len(parts) > 2 else model
    return model
