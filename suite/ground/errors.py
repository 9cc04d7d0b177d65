"""Errors a user can act on. Each prints as one line, without a traceback."""


class SuiteError(Exception):
    """Base class: the message names the field or the cause, in one line."""

    def __init__(self, message: str):
        # Keys and values quoted from a malformed file may hold newlines or control characters:
        # escape them, so the message stays one readable line.
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message)))


def one_line(e: BaseException) -> str:
    """An exception from a library as ``Type: first line of its message`` (at most 300 characters)."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


class StudyError(SuiteError):
    """The study file is malformed, names something unknown, or is impossible."""


class DataError(SuiteError):
    """A dataset cannot be loaded or cannot satisfy the requested split."""


class TrackingError(SuiteError):
    """The MLflow tracking store cannot be reached or written."""


class PluginError(SuiteError):
    """A plugin that cannot be loaded, or builds something the suite cannot train."""
