"""A small error hierarchy. Anything a user can cause raises a RagError whose message is one
line saying what was wrong and what to do; the CLI and the API print that line, never a
traceback.

The base class, InputError and ModelLoadError are defined in embeddings.errors (the lowest
layer, which must not import rag/) so that the encoders raise errors the CLI and the API already
report."""

from embeddings.errors import InputError, ModelLoadError, UserError

RagError = UserError


class IndexMissingError(RagError):
    """No index exists yet where one was expected."""


class IndexCorruptError(RagError):
    """The index directory exists but cannot be read consistently."""


class ModelMismatchError(RagError):
    """The index was built with a different embedding model than the one configured."""


class IndexBusyError(RagError):
    """Another process is writing the index."""


__all__ = [
    "IndexBusyError",
    "IndexCorruptError",
    "IndexMissingError",
    "InputError",
    "ModelLoadError",
    "ModelMismatchError",
    "RagError",
]


class StorageError(RagError):
    """Writing failed for lack of space or permission (full disk, quota, read-only file
    system); what was there before is untouched and the temporary files are removed."""
