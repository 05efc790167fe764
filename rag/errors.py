"""Typed errors with messages a user can act on."""


class RagError(Exception):
    """Base class of every error this package raises on purpose."""


class DocumentError(RagError):
    """A single document could not be read; the rest of a batch still lands."""


class UnknownSourceError(RagError, KeyError):
    """A source was asked for that is not in the index."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown source"


class IndexUnavailableError(RagError):
    """The index cannot be opened or read; the message names the fix."""
