"""Any upload becomes upright 8-bit RGB: modes, alpha on white, 16-bit scaling, animation, EXIF rotation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from preprocessors import normalise_image


def _reopen(image: Image.Image, fmt: str, **save) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    buffer.seek(0)
    return Image.open(buffer)


def _asymmetric() -> Image.Image:
    """An L shape in the top-left corner: any wrong rotation or flip moves it."""
    pixels = np.zeros((40, 60, 3), dtype=np.uint8)
    pixels[2:20, 2:8] = 255
    pixels[14:20, 2:30] = 255
    return Image.fromarray(pixels)


RED = (200, 40, 40)
RED_GREY = 87  # ITU-R 601 luma of RED, what any grey mode holds


def _grey16(value: int) -> Image.Image:
    return Image.fromarray(np.full((12, 16), value, dtype=np.uint16))


@pytest.mark.parametrize("source,expected", [
    (Image.new("RGB", (16, 12), RED), RED),
    (Image.new("RGBA", (16, 12), RED + (255,)), RED),
    (Image.new("RGB", (16, 12), RED).convert("CMYK"), RED),
    (Image.new("RGB", (16, 12), RED).quantize(4), RED),
    (Image.new("RGB", (16, 12), RED).convert("L"), (RED_GREY,) * 3),
    (Image.new("RGB", (16, 12), RED).convert("LA"), (RED_GREY,) * 3),
    (Image.new("1", (16, 12), 1), (255, 255, 255)),
    (_grey16(65535), (255, 255, 255)),
    (_grey16(32896), (128, 128, 128)),  # 16-bit mid-grey: scaled by 65535/255, not clipped to 255
    (Image.new("I", (16, 12), 40000), (156, 156, 156)),
    (Image.new("I", (16, 12), 200), (200, 200, 200)),  # an 8-bit image converted to "I" keeps its values
    (Image.new("F", (16, 12), 0.5), (128, 128, 128)),  # float 0..1
    (Image.new("F", (16, 12), 87.0), (87, 87, 87)),  # float 0..255
], ids=["RGB", "RGBA", "CMYK", "P", "L", "LA", "1", "I;16-white", "I;16-mid", "I-16bit", "I-8bit", "F-unit", "F-byte"])
def test_every_mode_becomes_rgb_with_its_colour(source, expected):
    result = normalise_image(source)
    assert result.mode == "RGB" and result.size == (16, 12)
    assert np.abs(np.asarray(result, dtype=int) - np.array(expected)).max() <= 1


def test_alpha_is_flattened_on_white():
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    result = np.asarray(normalise_image(_reopen(rgba, "PNG")))
    assert tuple(result[5, 5]) == (255, 255, 255) and tuple(result[0, 0]) == (255, 0, 0)


def test_palette_transparency_is_flattened_on_white():
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.putpixel((1, 1), 1)
    reopened = _reopen(palette, "PNG", transparency=0)
    result = np.asarray(normalise_image(reopened))
    assert tuple(result[0, 0]) == (255, 255, 255) and tuple(result[1, 1]) == (255, 0, 0)


def test_sixteen_bit_grey_is_scaled_not_clipped():
    ramp = (np.linspace(0, 65535, 64).reshape(8, 8)).astype(np.uint16)
    result = np.asarray(normalise_image(_reopen(Image.fromarray(ramp), "PNG")))[..., 0]
    assert result.min() == 0 and result.max() == 255 and len(np.unique(result)) > 50


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (10, 10), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    buffer.seek(0)
    animated = Image.open(buffer)
    animated.seek(1)
    result = np.asarray(normalise_image(animated))
    assert result[5, 5, 0] > 200 and result[5, 5, 2] < 50


def test_cmyk_jpeg_keeps_its_colour():
    cmyk = _reopen(Image.new("RGB", (16, 16), (0, 0, 255)).convert("CMYK"), "JPEG", quality=95)
    assert cmyk.mode == "CMYK"
    r, g, b = np.asarray(normalise_image(cmyk))[8, 8]
    assert b > 200 and r < 60 and g < 60


@pytest.mark.parametrize("orientation,transpose", [(3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90),
                                                   (8, Image.Transpose.ROTATE_270)])
def test_exif_rotated_jpeg_comes_out_upright(orientation, transpose):
    upright = _asymmetric()
    stored = upright.transpose(transpose)  # what a camera writes before tagging the orientation
    exif = Image.Exif()
    exif[0x0112] = orientation
    jpeg = _reopen(stored, "JPEG", quality=98, exif=exif.tobytes())
    result = normalise_image(jpeg)
    assert result.size == upright.size
    difference = np.abs(np.asarray(result, dtype=int) - np.asarray(upright, dtype=int))
    assert difference.mean() < 8
