"""`python -m embeddings.light [--model ID_OR_DIR]`: record a model's torch-free question
encoder (`make setup` runs it).

It loads the torch model through embeddings.encoder, which itself reads what embeddings.light
recorded: this entry point sits above both, so neither of them imports the other back.
"""

from __future__ import annotations

from embeddings.light import _load, record


def main(argv: list[str] | None = None) -> int:
    """Record the torch-free question encoder of a model (the default: multilingual-e5-small,
    as embeddings.encoder resolves it here): `python -m embeddings.light [--model ID_OR_DIR]`."""
    import argparse
    import sys
    import time

    from embeddings import bundled_e5
    from embeddings.encoder import resolve_encoder
    from embeddings.errors import ModelLoadError

    ap = argparse.ArgumentParser(prog="python -m embeddings.light", description=main.__doc__)
    ap.add_argument("--model", default=bundled_e5.MODEL_ID, help="hub id or local directory")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    # Already recorded from the same files: nothing to load or export again (`make setup`).
    keys = [args.model] + ([bundled_e5.LABEL] if args.model == bundled_e5.MODEL_ID else [])
    for key in keys:
        if _load(key) is not None:
            print(f"{key}: questions already encoded without torch (recorded earlier)")
            return 0
    try:
        encoder = resolve_encoder(args.model, fallback=False).encoder
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if encoder is None or getattr(encoder, "source", None) is None:
        print(f"error: {args.model} was not loaded from a local directory: nothing to record",
              file=sys.stderr)  # fmt: skip
        return 1
    try:
        path = record(encoder.model, encoder.model_id, encoder.spec, encoder.source)
    except OSError as exc:
        print(f"error: cannot write the question encoder of {encoder.model_id}: {exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"{encoder.model_id}: questions encoded without torch from {path.parent} "
          f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
