"""The style-transfer engine: VGG16 features, Gatys losses, scipy L-BFGS.

Importing this package is cheap and imports no TensorFlow: options, images and errors are pure
Python/NumPy/Pillow. ``stylize`` imports TensorFlow on first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from impasto.nst.errors import (
    Cancelled,
    ImageError,
    ImpastoError,
    NumericalError,
    OptionError,
    ResourceError,
    WeightsError,
)
from impasto.nst.options import DEFAULTS, PRESETS, Options

if TYPE_CHECKING:
    from impasto.nst.engine import Progress, Result

__all__ = [
    "Cancelled", "ImageError", "ImpastoError", "NumericalError", "OptionError", "ResourceError",
    "WeightsError", "DEFAULTS", "PRESETS", "Options", "stylize", "Progress", "Result",
]


def stylize(*args: Any, **kwargs: Any) -> Result:
    """See ``impasto.nst.engine.stylize`` (imported lazily: it loads TensorFlow)."""
    from impasto.nst.engine import stylize as _stylize

    return _stylize(*args, **kwargs)
