"""One downloadable PNG of the condition matrix: a caption strip over each column of map + results."""

from __future__ import annotations

from diffusers.utils import make_image_grid
from PIL import Image, ImageDraw, ImageFont

CAPTION_HEIGHT = 28


def labelled_grid(columns: list[tuple[str, list[Image.Image]]]) -> Image.Image:
    """Columns are conditions; rows are the map then each result. make_image_grid lays out, PIL captions."""
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
    canvas = Image.new("RGB", (body.width, body.height + CAPTION_HEIGHT), "white")
    canvas.paste(body, (0, CAPTION_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    for index, (label, _) in enumerate(columns):
        size = 16
        font = ImageFont.load_default(size=size)
        while size > 8 and draw.textlength(label, font=font) > width - 8:  # shrink long names to fit the column
            size -= 1
            font = ImageFont.load_default(size=size)
        draw.text((index * width + 4, 5), label, fill="black", font=font)
    return canvas
