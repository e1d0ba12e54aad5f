"""One downloadable PNG of a matrix: column captions on top, row captions on the left, maps in the first row."""

from __future__ import annotations

from diffusers.utils import make_image_grid
from PIL import Image, ImageDraw, ImageFont

from pipelines.outputs import with_parameters

CAPTION_HEIGHT = 28
ROW_LABEL_WIDTH = 140


def labelled_grid(columns: list[tuple[str, list[Image.Image]]], row_labels: list[str] | None = None,
                  parameters: str | None = None) -> Image.Image:
    """Columns are conditions; rows are the map then each result. make_image_grid lays out, PIL captions. With
    `row_labels` a left gutter names each row; `parameters` goes into the PNG's metadata (the axes, the shared settings)."""
    if not columns:
        raise ValueError("labelled_grid needs at least one column")
    width, height = columns[0][1][0].size
    rows = max(len(images) for _, images in columns)
    cells = []
    for row in range(rows):
        for _, images in columns:
            image = images[row] if row < len(images) else Image.new("RGB", (width, height), "white")
            cells.append(image.convert("RGB").resize((width, height)))
    body = make_image_grid(cells, rows=rows, cols=len(columns))
    left = ROW_LABEL_WIDTH if row_labels else 0
    canvas = Image.new("RGB", (left + body.width, body.height + CAPTION_HEIGHT), "white")
    canvas.paste(body, (left, CAPTION_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    for index, (label, _) in enumerate(columns):
        draw.text((left + index * width + 4, 5), label, fill="black", font=_fitting_font(draw, label, width - 8))
    for row, label in enumerate(row_labels or []):
        draw.text((4, CAPTION_HEIGHT + row * height + 4), label, fill="black", font=_fitting_font(draw, label, left - 8))
    return with_parameters(canvas, parameters) if parameters else canvas


def _fitting_font(draw: ImageDraw.ImageDraw, label: str, room: int) -> ImageFont.FreeTypeFont:
    """PIL's default font, shrunk until the label fits its room (long module names in narrow columns)."""
    size = 16
    font = ImageFont.load_default(size=size)
    while size > 8 and draw.textlength(label, font=font) > room:
        size -= 1
        font = ImageFont.load_default(size=size)
    return font


def failure_tile(size: tuple[int, int], sentence: str) -> Image.Image:
    """A grey tile carrying a failed cell's sentence, wrapped to the tile's width, so the grid says why it is empty."""
    tile = Image.new("RGB", size, (235, 235, 235))
    draw = ImageDraw.Draw(tile)
    font = ImageFont.load_default(size=max(8, min(14, size[0] // 14)))
    lines, line = [], ""
    for word in sentence.split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) > size[0] - 8 and line:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    draw.multiline_text((4, 4), "\n".join(lines), fill=(120, 0, 0), font=font, spacing=2)
    return tile
