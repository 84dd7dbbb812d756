"""Images in (formats, orientation, modes) and out (PNG/JPEG, atomic writes), and bad input."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from impasto.nst.errors import ImageError
from impasto.nst.images import check_writable, encode_image, load_image, save_image


def _encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def rgb() -> Image.Image:
    arr = np.zeros((20, 30, 3), np.uint8)
    arr[:, :15] = [200, 30, 30]
    arr[:, 15:] = [30, 30, 200]
    return Image.fromarray(arr)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF"])
def test_accepted_formats_decode_to_rgb(rgb, fmt):
    out = load_image(_encode(rgb, fmt))
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert abs(int(out[10, 2, 0]) - 200) < 12 and abs(int(out[10, 28, 2]) - 200) < 12


def test_exif_orientation_is_applied(rgb):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    out = load_image(_encode(rgb, "JPEG", exif=exif.tobytes()))
    assert out.shape == (30, 20, 3)  # width and height swapped
    assert out[2, 10, 0] > 150  # the red left half is now on top


def test_grayscale_palette_cmyk_become_rgb(rgb):
    grey = load_image(_encode(rgb.convert("L"), "PNG"))
    assert grey.shape == (20, 30, 3) and np.all(grey[..., 0] == grey[..., 1])
    palette = load_image(_encode(rgb.convert("P"), "PNG"))
    assert palette.shape == (20, 30, 3) and palette[10, 2, 0] > 150
    cmyk = load_image(_encode(rgb.convert("CMYK"), "JPEG"))
    assert cmyk.shape == (20, 30, 3) and cmyk[10, 2, 0] > 150


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    out = load_image(_encode(rgba, "PNG"))
    assert tuple(out[5, 5]) == (255, 255, 255)
    assert tuple(out[0, 0]) == (255, 0, 0)


def test_sixteen_bit_grey_is_scaled_down():
    arr = np.full((8, 8), 65535, np.uint16)
    arr[:, :4] = 32768
    out = load_image(_encode(Image.fromarray(arr), "PNG"))
    assert out[0, 7, 0] == 255 and abs(int(out[0, 0, 0]) - 128) <= 1


def test_not_an_image_and_empty_and_truncated(rgb, tmp_path):
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(b"hello, I am text", name="content")
    with pytest.raises(ImageError, match="empty"):
        load_image(b"", name="content")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(empty)
    data = _encode(rgb, "PNG")
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2])


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "nope.jpg", name="style")
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)


def test_unsupported_format_is_named(rgb):
    with pytest.raises(ImageError, match="GIF images are not supported"):
        load_image(_encode(rgb, "GIF"))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size: the classic decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_pixel_limit_and_decompression_bomb(rgb):
    with pytest.raises(ImageError) as info:
        load_image(_encode(rgb, "PNG"), max_pixels=500)
    assert info.value.too_large and "600 pixels is over the limit of 500" in str(info.value)
    with pytest.raises(ImageError) as bomb:
        load_image(_png_header_only(100_000, 100_000))
    assert bomb.value.too_large


def test_save_png_and_jpeg_by_extension(rgb, tmp_path):
    arr = np.asarray(rgb)
    save_image(arr, tmp_path / "a.png")
    save_image(arr, tmp_path / "b.JPG")
    assert Image.open(tmp_path / "a.png").format == "PNG"
    assert Image.open(tmp_path / "b.JPG").format == "JPEG"
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), arr)
    assert not list(tmp_path.glob("*.part"))  # no temporary file left behind
    assert encode_image(arr, "JPEG")[:2] == b"\xff\xd8"


def test_output_checks(tmp_path):
    with pytest.raises(ImageError, match="unsupported extension"):
        check_writable(tmp_path / "x.gif")
    with pytest.raises(ImageError, match="does not exist"):
        check_writable(tmp_path / "missing" / "x.png")
    check_writable(tmp_path / "fine.png")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.parametrize("chunks, words", [
    ([(b"IHDR", b"\0\0\0\x10\0\0")], "Truncated IHDR chunk"),
    ([(b"IHDR", bytes.fromhex("0000001000000010 0802000000")),
      (b"zTXt", b"k\0\0" + zlib.compress(b"a" * 20_000_000))], "Decompressed data too large"),
])
def test_png_chunks_pillow_refuses_are_image_errors(chunks, words):
    data = b"\x89PNG\r\n\x1a\n" + b"".join(_png_chunk(k, d) for k, d in chunks) + _png_chunk(b"IEND", b"")
    with pytest.raises(ImageError, match=f"photo: not a readable image: {words}"):
        load_image(data, name="photo")
