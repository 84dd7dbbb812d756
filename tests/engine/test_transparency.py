"""Transparency: a photo's alpha channel comes back in the result, resized with the picture."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from impasto.nst import engine
from impasto.nst.images import attach_alpha, encode_image, load_image, split_alpha
from impasto.nst.options import Options
from tests.conftest import gradient_image, stripes_image
from tests.weights import UNTRAINED_WEIGHTS

TINY = Options(size=40, iterations=2, scales=1, precision="float32")


def rgba_photo(height: int = 48, width: int = 64) -> np.ndarray:
    """The gradient photo with a transparent left third and a half-transparent band."""
    alpha = np.full((height, width), 255, np.uint8)
    alpha[:, : width // 3] = 0
    alpha[: height // 4, width // 3:] = 128
    return np.dstack([gradient_image(height, width), alpha])


def saved(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_rgba_la_and_palette_transparency_are_read_when_asked() -> None:
    rgba = rgba_photo()
    assert load_image(saved(Image.fromarray(rgba, "RGBA")), keep_alpha=True).shape == (48, 64, 4)
    la = Image.fromarray(rgba, "RGBA").convert("LA")
    assert np.array_equal(load_image(saved(la), keep_alpha=True)[:, :, 3], rgba[:, :, 3])
    palette = Image.fromarray(gradient_image(), "RGB").quantize(16)
    palette.info["transparency"] = 0  # palette entry 0 is transparent
    alpha = load_image(saved(palette), keep_alpha=True)[:, :, 3]
    assert alpha.min() == 0 and alpha.max() == 255
    # Without keep_alpha (the paintings, the masks): composited on white, as before.
    flat = load_image(saved(Image.fromarray(rgba, "RGBA")))
    assert flat.shape == (48, 64, 3) and (flat[12:, :10] == 255).all()
    # An opaque photo stays RGB even when asked.
    assert load_image(encode_image(gradient_image()), keep_alpha=True).shape == (48, 64, 3)


def test_split_and_attach_alpha_round_trip() -> None:
    rgba = rgba_photo()
    rgb, alpha = split_alpha(rgba)
    assert rgb.shape == (48, 64, 3) and (rgb[12:, :10] == 255).all()  # transparent parts on white
    assert np.array_equal(attach_alpha(rgb, alpha)[:, :, 3], rgba[:, :, 3])
    smaller = attach_alpha(rgb[:24, :32], alpha)  # resized with the picture
    assert smaller.shape == (24, 32, 4) and smaller[:, :9, 3].max() < 8 and smaller[10:, 12:, 3].min() > 247
    assert split_alpha(rgb) == (rgb, None) and attach_alpha(rgb, None) is rgb


def test_jpeg_of_rgba_is_on_white() -> None:
    jpeg = Image.open(io.BytesIO(encode_image(rgba_photo(), "JPEG")))
    assert jpeg.mode == "RGB" and np.asarray(jpeg)[20:, :15].mean() > 250


@pytest.mark.parametrize("size", [40, 64])
def test_stylize_gives_the_alpha_back_at_the_result_size(size: int) -> None:
    rgba = rgba_photo()
    result = engine.stylize(rgba, stripes_image(), options=TINY.replace(size=size), weights=UNTRAINED_WEIGHTS)
    height, width = result.image.shape[:2]
    assert result.image.shape[2] == 4 and max(height, width) == size
    expected = np.asarray(Image.fromarray(rgba[:, :, 3]).resize((width, height), Image.Resampling.LANCZOS))
    assert np.abs(result.image[:, :, 3].astype(int) - expected).max() <= 1
    assert result.summary()["transparent"] is True
    png = Image.open(io.BytesIO(encode_image(result.image, "PNG")))
    assert png.mode == "RGBA"


def test_opaque_photo_gives_rgb() -> None:
    result = engine.stylize(gradient_image(), stripes_image(), options=TINY, weights=UNTRAINED_WEIGHTS)
    assert result.image.shape[2] == 3 and result.summary()["transparent"] is False


def test_cli_keeps_alpha_in_png_and_says_so_for_jpeg(tmp_path, capsys) -> None:
    from impasto.cli import main

    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    Image.fromarray(rgba_photo(), "RGBA").save(photo)
    Image.fromarray(stripes_image()).save(painting)
    common = [str(photo), str(painting), "--size", "40", "--iterations", "2", "--weights", UNTRAINED_WEIGHTS]
    assert main(["transfer", *common, "-o", str(tmp_path / "out.png")]) == 0
    out = Image.open(tmp_path / "out.png")
    assert out.mode == "RGBA" and np.asarray(out)[:, :10, 3].max() < 8
    assert "transparen" not in capsys.readouterr().err
    assert main(["transfer", *common, "-o", str(tmp_path / "out.jpg")]) == 0
    assert "JPEG has no transparency" in capsys.readouterr().err
    assert np.asarray(Image.open(tmp_path / "out.jpg"))[15:, :10].mean() > 240  # on white
