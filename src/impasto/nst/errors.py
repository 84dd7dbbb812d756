"""Errors the engine raises. Each carries a message meant for the person who ran the job."""

from __future__ import annotations

from impasto.message import Message


class ImpastoError(Exception):
    """Base class: the message is complete and safe to show to a user. It may be a Message (its
    facts kept for each audience's words); ``str()`` says it in the API's words."""

    def __init__(self, message: str | Message = "") -> None:
        super().__init__(str(message))
        self.message = message


class OptionError(ImpastoError, ValueError):
    """An option is unknown, of the wrong type or out of range."""

    def __init__(self, field: str, message: str | Message) -> None:
        super().__init__(message)
        self.field = field


class ImageError(ImpastoError, ValueError):
    """An input image cannot be read, or is too large. ``limit`` names the ClipLimits field a clip
    went over ('max_frames', 'max_seconds', 'max_side'), so each caller can name its own setting."""

    def __init__(self, message: str | Message, *, field: str | None = None, too_large: bool = False,
                 limit: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.too_large = too_large
        self.limit = limit


class WeightsError(ImpastoError, RuntimeError):
    """The VGG16 weights could not be loaded (offline, missing or wrong file)."""


class ResourceError(ImpastoError, RuntimeError):
    """The job would not fit in memory; the message says the limit and the size asked for."""


class NumericalError(ImpastoError, ArithmeticError):
    """The loss became NaN or infinite; the run was stopped instead of returning garbage."""


class Cancelled(ImpastoError):
    """The run was stopped by its ``should_stop`` check. Nothing was written."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)
