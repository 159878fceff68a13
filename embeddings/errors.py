"""Errors of the embedding layer: one line saying what was wrong and what to do.

The base class lives here, in the lowest layer, so that embeddings/ never imports rag/;
rag.errors re-exports these (UserError as RagError), and the CLI and the API report them like
any other user-facing error."""


class UserError(Exception):
    """Base class: a user-facing error with a one-line message (rag.errors.RagError)."""

    exit_code = 1


class InputError(UserError):
    """Bad user input: a missing file, an empty question, an unsupported format, an unknown
    embedding backend."""

    exit_code = 2


class ModelLoadError(UserError):
    """An embedding or reranking model could not be loaded (or built from installed files)."""
