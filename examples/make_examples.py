"""Draw the example control images the app ships (no downloads, no licences): python -m examples.make_examples"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SIZE = (512, 512)

# OpenPose's 18 body keypoints (COCO order) for a standing figure, and its limb pairs with their colours.
_KEYPOINTS = [(256, 90), (256, 150), (206, 150), (180, 225), (170, 295), (306, 150), (332, 225), (342, 295),
              (226, 300), (222, 390), (220, 470), (286, 300), (290, 390), (292, 470), (244, 80), (268, 80), (232, 88), (280, 88)]
_LIMBS = [(1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13), (1, 0),
          (0, 14), (14, 16), (0, 15), (15, 17)]
_COLOURS = [(255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0), (0, 255, 85),
            (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255), (170, 0, 255),
            (255, 0, 255), (255, 0, 170), (255, 0, 85)]


def line_drawing() -> Image.Image:
    """Black lines on white, like a pencil sketch: a house, a tree, hills and a sun (use with `invert`)."""
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    draw.line([(0, 380), (120, 330), (260, 360), (400, 320), (512, 350)], fill="black", width=4)
    draw.rectangle([150, 250, 330, 400], outline="black", width=4)
    draw.polygon([(140, 250), (240, 170), (340, 250)], outline="black", width=4)
    draw.rectangle([215, 320, 260, 400], outline="black", width=4)
    draw.rectangle([170, 280, 205, 315], outline="black", width=3)
    draw.rectangle([280, 280, 315, 315], outline="black", width=3)
    draw.ellipse([390, 60, 470, 140], outline="black", width=4)
    draw.line([(420, 300), (420, 400)], fill="black", width=6)
    draw.ellipse([370, 200, 470, 310], outline="black", width=4)
    return image


def stick_figure() -> Image.Image:
    """A standing figure in OpenPose's own colours on black: a ready-made map for the openpose ControlNet."""
    image = Image.new("RGB", SIZE, "black")
    draw = ImageDraw.Draw(image)
    for (start, end), colour in zip(_LIMBS, _COLOURS):
        draw.line([_KEYPOINTS[start], _KEYPOINTS[end]], fill=tuple(int(c * 0.6) for c in colour), width=10)
    for point, colour in zip(_KEYPOINTS, _COLOURS):
        draw.ellipse([point[0] - 6, point[1] - 6, point[0] + 6, point[1] + 6], fill=colour)
    return image


def shaded_scene() -> Image.Image:
    """A lit sphere in front of a receding floor: clear near/far structure for the depth preprocessors."""
    height, width = SIZE[1], SIZE[0]
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    floor = np.clip((yy - 200) / (height - 200), 0, 1) * 180 + 40
    sky = np.where(yy < 200, 200 - yy * 0.3, floor)
    image = np.stack([sky * 0.8, sky * 0.85, sky], axis=-1)
    dx, dy = (xx - 256) / 120, (yy - 300) / 120
    inside = dx**2 + dy**2 < 1
    nz = np.sqrt(np.clip(1 - dx**2 - dy**2, 0, 1))
    light = np.clip(-0.5 * dx - 0.6 * dy + 0.6 * nz, 0, 1)
    for channel, tint in enumerate((230, 120, 90)):
        image[..., channel] = np.where(inside, 30 + light * tint, image[..., channel])
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


EXAMPLES = {"line_drawing.png": line_drawing, "stick_figure_openpose.png": stick_figure, "shaded_scene.png": shaded_scene}


def main() -> None:
    for name, draw in EXAMPLES.items():
        draw().save(HERE / name)


if __name__ == "__main__":
    main()
