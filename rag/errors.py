"""A small error hierarchy. Anything a user can cause raises a RagError whose message is one
line saying what was wrong and what to do; the CLI and the API print that line, never a
traceback."""


class RagError(Exception):
    """Base class: a user-facing error with a one-line message."""

    exit_code = 1


class InputError(RagError):
    """Bad user input: a missing file, an empty question, an unsupported format."""

    exit_code = 2


class IndexMissingError(RagError):
    """No index exists yet where one was expected."""


class IndexCorruptError(RagError):
    """The index directory exists but cannot be read consistently."""


class ModelMismatchError(RagError):
    """The index was built with a different embedding model than the one configured."""


class ModelLoadError(RagError):
    """An embedding or reranking model could not be loaded."""


class IndexBusyError(RagError):
    """Another process is writing the index."""
