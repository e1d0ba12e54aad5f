"""Hostile and unusual uploads through the real server: refused with a sentence or normalised, never a crash."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from tests.security.helpers import (
    HTTP_TIMEOUT_S,
    error_text,
    png_claiming,
    reference_image,
    reference_pixels,
    rss_mb,
    upload,
)

pytestmark = pytest.mark.server


def _map_of(client, path: Path, module: str = "none") -> np.ndarray:
    result, _ = client.predict(handle_file(str(path)), module=module, processor_res=64, api_name="/preprocess")
    return np.asarray(Image.open(result).convert("RGB")).astype(int)


def _still_serving(client, control_path) -> None:
    assert _map_of(client, control_path).shape == (64, 96, 3)


@pytest.mark.parametrize("width, height", [(30000, 30000), (10000, 5000)], ids=["pil-bomb-900MP", "over-40MP-limit"])
def test_decompression_bomb_is_refused_before_decoding(client, served, tmp_path, control_path, width, height):
    """Hazard: decompression bomb. A PNG whose header claims huge dimensions is refused from its header, memory stays flat."""
    bomb = png_claiming(tmp_path / "bomb.png", width, height)
    before = rss_mb(served.process.pid)
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(str(bomb)), module="none", processor_res=64, api_name="/preprocess")
    grown = rss_mb(served.process.pid) - before
    assert "megapixel limit" in error_text(caught.value)
    assert grown < 100, f"server grew {grown:.0f} MB handling a bomb header (decoding it would take GBs)"
    _still_serving(client, control_path)


def test_upload_over_max_file_size_is_http_413(served, client, tmp_path, control_path):
    """Hazard: oversized upload (disk/memory exhaustion). Over --max-file-size the upload route answers 413."""
    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(2 * 2**20))
    with open(big, "rb") as handle:
        response = httpx.post(served.url + "gradio_api/upload", files={"files": ("big.png", handle)},
                              timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 413 and "Traceback" not in response.text
    _still_serving(client, control_path)


def _cmyk_jpeg(path: Path) -> None:
    reference_image().convert("CMYK").save(path, quality=95)


def _rgba_png(path: Path) -> None:
    rgba = np.dstack([reference_pixels(), np.full((64, 96), 255, np.uint8)])
    rgba[32:, :48, 3] = 0  # bottom-left quarter fully transparent: flattened on white
    Image.fromarray(rgba, "RGBA").save(path)


def _palette_png(path: Path) -> None:
    indices = np.zeros((64, 96), np.uint8)  # 0 black, 1 white, 2 red, 3 transparent green
    indices[:, 48:] = 1
    indices[:16, :16] = 2
    indices[32:, :48] = 3
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 255, 0])
    image.save(path, transparency=3)


def _grey16_png(path: Path) -> None:
    grey = np.zeros((64, 96), np.uint16)
    grey[:, 48:] = 65535
    grey[:16, :16] = 19595  # what red becomes in greyscale (0.299 * 65535)
    Image.fromarray(grey).save(path)


def _one_bit_png(path: Path) -> None:
    reference_image().convert("L").point(lambda v: 255 if v > 128 else 0).convert("1").save(path)


def _animated_gif(path: Path) -> None:
    first = reference_image()
    second = Image.fromarray(255 - reference_pixels())
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)


def _exif_jpeg(orientation: int):
    """The upright picture stored rotated, with the EXIF orientation tag that tells viewers to turn it back."""
    stored_as = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}[orientation]

    def write(path: Path) -> None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        reference_image().transpose(stored_as).save(path, exif=exif, quality=95)

    return write


FORMATS = {
    "cmyk.jpg": (_cmyk_jpeg, (255, 0, 0), (0, 0, 0)),
    "rgba.png": (_rgba_png, (255, 0, 0), (255, 255, 255)),
    "palette-transparency.png": (_palette_png, (255, 0, 0), (255, 255, 255)),
    "grey16.png": (_grey16_png, (76, 76, 76), (0, 0, 0)),
    "one-bit.png": (_one_bit_png, (0, 0, 0), (0, 0, 0)),
    "animated.gif": (_animated_gif, (255, 0, 0), (0, 0, 0)),
    "exif3.jpg": (_exif_jpeg(3), (255, 0, 0), (0, 0, 0)),
    "exif6.jpg": (_exif_jpeg(6), (255, 0, 0), (0, 0, 0)),
    "exif8.jpg": (_exif_jpeg(8), (255, 0, 0), (0, 0, 0)),
}


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("module", ["none", "invert"])
def test_unusual_formats_are_normalised_upright(client, tmp_path, name, module):
    """Hazard: mode/orientation confusion (CMYK, alpha, palette transparency, 16-bit, 1-bit, animation, EXIF rotation).
    Every upload becomes upright 8-bit RGB: the map keeps the picture's layout and colours (first frame of a GIF)."""
    write, top_left, bottom_left = FORMATS[name]
    path = tmp_path / name
    write(path)
    pixels = _map_of(client, path, module)
    if module == "invert":
        pixels = 255 - pixels
    assert pixels.shape == (64, 96, 3), "map is not upright 96x64"
    assert np.abs(pixels[4, 4] - top_left).max() <= 24, f"top-left mark is {pixels[4, 4]}, expected {top_left}"
    assert np.abs(pixels[48, 24] - bottom_left).max() <= 24, f"bottom-left is {pixels[48, 24]}, expected {bottom_left}"
    assert (pixels[:, 60:] >= 230).all(), "right half should stay white"


def _write_junk(path: Path) -> None:
    junk = {
        "empty.png": b"",
        "text-named.png": b"just some text, not an image\n",
        "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "page.html": b"<html><body><script>alert(document.cookie)</script></body></html>",
    }
    if path.name == "truncated.png":
        reference_image().save(path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(junk[path.name])


@pytest.mark.parametrize("name", ["empty.png", "truncated.png", "text-named.png", "drawing.svg", "page.html"])
def test_files_that_are_not_images_are_refused_with_a_sentence(client, tmp_path, control_path, name):
    """Hazard: malformed or disguised uploads (0 bytes, truncated PNG, text named .png, SVG/HTML with script)."""
    path = tmp_path / name
    _write_junk(path)
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(str(path)), module="none", processor_res=64, api_name="/preprocess")
    message = error_text(caught.value)
    assert "image" in message and ("upload" in message or "export" in message)
    _still_serving(client, control_path)


def test_uploaded_html_and_svg_are_served_as_downloads_not_pages(served, tmp_path):
    """Hazard: stored XSS. An uploaded HTML/SVG file fetched back is an attachment, never rendered on the app's origin."""
    for name in ("page.html", "drawing.svg"):
        path = tmp_path / name
        _write_junk(path)
        served_path = upload(served.url, path)["path"]
        response = httpx.get(served.url + "gradio_api/file=" + served_path, timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/octet-stream")
        assert response.headers.get("content-disposition", "").startswith("attachment")


@pytest.mark.parametrize("size", [(1, 1), (1600, 100)], ids=["1x1", "1600x100"])
def test_degenerate_image_sizes_still_generate(client, small_job, tmp_path, size):
    """Hazard: degenerate geometry (1x1, a 16:1 strip, the widest allowed). The map is fitted to the output; the result is correct-size."""
    path = tmp_path / "odd.png"
    Image.new("RGB", size, "white").save(path)
    images, used_map, infotext = client.predict(**{**small_job, "image": handle_file(str(path))}, api_name="/generate")
    assert Image.open(images[0]).size == (64, 64) and Image.open(used_map).size == (64, 64)
    assert "Size: 64x64" in infotext
