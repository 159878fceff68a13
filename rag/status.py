"""What the assistant tells about its index: the model warning (why the model in use is not
the one configured), the retrieval-mode warning, and the status the CLI, the UI and the API
show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.store import Snapshot


def model_warning(snap: Snapshot | None, choice_warning: str | None, root: Path) -> str | None:
    """Why the model in use is not the one configured, if it is not; None otherwise.
    ``choice_warning``: the encoder resolution's own (a fallback)."""
    if snap is None or snap.model is None:
        return None
    if choice_warning:
        return choice_warning
    built_for = snap.manifest.get("settings", {}).get("requested_model")
    from embeddings import bundled_e5
    from embeddings.encoder import stands_for

    if built_for and stands_for(built_for) != stands_for(snap.model):
        rebuild = f"`rag ingest --rebuild PATH... --index {root}`"
        if stands_for(built_for) == bundled_e5.MODEL_ID and bundled_e5.installed():
            return (
                f"this index was built with {snap.model} because {built_for} could not be "
                f"loaded then; it can be now ({bundled_e5.LABEL}): rebuild with {rebuild}"
            )
        return (
            f"this index was built with {snap.model} because {built_for} could not be "
            f"loaded; rebuild with {rebuild} once it can"
        )
    return None


def mode_warning(snap: Snapshot | None, requested: str | None, used: str | None) -> str | None:
    """Why the retrieval mode asked for was not the one used, if it was not."""
    if not (requested and used and requested != used):
        return None
    why = (
        "the index has no vectors"
        if snap is not None and snap.model is None
        else "no embedding model could be loaded"
    )
    return f"{requested} retrieval is unavailable ({why}); used {used}"


def index_info(
    snap: Snapshot | None, base: dict[str, Any], model_in_use: str | None, warning: str | None
) -> dict[str, Any]:
    """``base`` (where the index is, what is configured) with what ``snap`` holds."""
    if snap is None:
        return base
    m = snap.manifest
    settings = m.get("settings", {})
    return {
        **base,
        "generation": snap.generation,
        "index_model": snap.model,
        "model_in_use": model_in_use,
        "mode": "hybrid" if model_in_use else "bm25",
        "warning": warning
        if warning
        else (None if snap.model else "index has no vectors: BM25 keyword search only"),
        "articles": m["counts"]["articles"],
        "chunks": m["counts"]["chunks"],
        "dim": m.get("dim"),
        "faiss_index": m.get("faiss_index"),
        "chunk_size": settings.get("chunk_size"),
        "chunk_overlap": settings.get("chunk_overlap"),
        "created": m.get("created"),
        "versions": m.get("versions"),
        "disk_bytes": snap.disk_bytes(),
        "segments": len(snap.segments),
    }
