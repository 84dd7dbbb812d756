"""The one shape check (impasto.nst.shapes): what the network cannot take is refused from the shapes
alone, naming what to change and a value that works; the web calls it without TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import pytest

from impasto.nst.errors import OptionError
from impasto.nst.options import Options
from impasto.nst.shapes import check_shapes
from tests.conftest import ROOT

PAINTING = (640, 1024)  # Starry Night's (height, width)
# Style layers down to block5 (four poolings: 16 px a side at least), as the default had; the
# default now stops at block4 (8 px), tested below.
DEEP = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")


@pytest.mark.parametrize("options, content, style, max_size, field, words", [
    # The four: a 96×32 photo at 32 px, 10000×8 at 64 px, an 8×10000 painting, scale 0.1 at 32 px.
    (Options(style_layers=DEEP, size=32), (32, 96), PAINTING, 1024, "size",
     "the photo (96×32 px) becomes 32×11 px; the network needs at least 16 px on each side: "
     "choose a size of at least 47"),
    (Options(style_layers=DEEP, size=64), (8, 10000), PAINTING, 1024, "content",
     "content: the photo is 10000×8 px, too long and narrow"),
    (Options(style_layers=DEEP, size=512), (480, 640), (10000, 8), 1024, "style",
     "style: the painting is 8×10000 px, too long"),
    (Options(style_layers=DEEP, size=32, style_scale=0.1), (24, 32), PAINTING, 1024, "style_scale",
     "style_scale 0.1: at 32 px and style scale 0.1, the painting (1024×640 px) becomes 16×10 px; "
     "the network needs at least 16 px on each side: choose a style scale of at least 0.8"),
])
def test_impossible_jobs_are_named(options: Options, content: tuple[int, int], style: tuple[int, int],
                                   max_size: int, field: str, words: str) -> None:
    with pytest.raises(OptionError) as caught:
        check_shapes(options, content, [style], max_size=max_size)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_style_scale_suggestion_works() -> None:
    options = Options(style_layers=DEEP, size=32, style_scale=0.1, style_fit="content")
    with pytest.raises(OptionError, match=r"choose a style scale of at least 0\.7") as caught:
        check_shapes(options, (24, 32), [PAINTING])
    assert caught.value.field == "style_scale"
    check_shapes(options.replace(style_scale=0.7), (24, 32), [PAINTING])  # the suggested value passes


def test_each_coarse_scale_counts() -> None:
    # 512 px runs at 256 then 512: a 4:1 photo is 256×64 at the first scale, fine; 20:1 is 256×13.
    check_shapes(Options(style_layers=DEEP, size=512), (100, 400), [PAINTING])
    with pytest.raises(OptionError, match="at the 256 px scale of size 512"):
        check_shapes(Options(style_layers=DEEP, size=512), (20, 400), [PAINTING])


def test_the_default_needs_8_px_a_side() -> None:
    check_shapes(Options(size=32), (32, 96), [PAINTING])  # 32×11 px: fine down to block4
    with pytest.raises(OptionError, match="needs at least 8 px on each side"):
        check_shapes(Options(size=32), (16, 96), [PAINTING])


def test_possible_jobs_pass() -> None:
    check_shapes(Options(style_layers=DEEP, size=32), (24, 32), [PAINTING, (32, 32)])
    check_shapes(Options(style_layers=DEEP, size=512, style_scale=0.1), (480, 640), [PAINTING])


def test_the_check_imports_no_tensorflow() -> None:
    code = "import sys, impasto.nst.shapes, impasto.web.submission; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
