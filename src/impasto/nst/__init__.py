"""The style-transfer engine: VGG16 features, Gatys losses, scipy L-BFGS.

Importing this package is cheap and imports no TensorFlow: its errors and options are pure
Python. The engine itself is ``impasto.nst.engine.stylize`` (it loads TensorFlow); this package
imports none of its modules that import it back.
"""

from __future__ import annotations

from impasto.nst.errors import (
    Cancelled,
    ImageError,
    ImpastoError,
    NumericalError,
    OptionError,
    ResourceError,
    WeightsError,
)
from impasto.nst.options import DEFAULTS, Options
from impasto.nst.presets import PRESETS

__all__ = [
    "Cancelled", "ImageError", "ImpastoError", "NumericalError", "OptionError", "ResourceError",
    "WeightsError", "DEFAULTS", "PRESETS", "Options",
]
