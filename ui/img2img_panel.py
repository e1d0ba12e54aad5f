"""The img2img / inpaint panel (Generate's and Compare's): the picture to start from, a mask painted on it or uploaded,
and A1111's img2img settings (drawn from the schema); plus "use the picture as the control image"."""

from __future__ import annotations

from dataclasses import dataclass, replace

import gradio as gr
import numpy as np
from PIL import Image

from pipelines.limits import Limits
from ui.errors import sentence
from ui.scratch import Scratch
from ui.widgets import REQUEST, SettingsControls, schema_choices, schema_slider

WHITE = "#ffffff"


@dataclass
class Img2ImgControls:
    """The panel's components: the picture (its painted layer is the mask), an uploaded mask, the schema's settings."""

    picture: gr.ImageEditor
    mask_upload: gr.Image
    to_unit: gr.Button
    denoising_strength: gr.Slider
    init_resize_mode: gr.Radio
    mask_blur: gr.Slider
    mask_mode: gr.Radio
    masked_content: gr.Radio
    inpaint_area: gr.Radio
    inpaint_padding: gr.Slider


def img2img_panel(limits: Limits, prefix: str = "img2img", target: str = "unit 0's control image") -> Img2ImgControls:
    """An accordion an A1111 user recognises: img2img when a picture is there, inpaint once something is painted.
    `prefix` keeps each tab's element ids apart; `target` names what "use the picture" fills."""
    with gr.Accordion("img2img / inpaint: start from a picture", open=False, elem_id=f"{prefix}-panel"):
        picture = gr.ImageEditor(label="Picture (paint white over what to repaint)", type="pil", sources=("upload", "clipboard"),
                                 transforms=(), layers=False, height=320, format="png", elem_id=f"{prefix}-editor",
                                 brush=gr.Brush(colors=[WHITE], default_color=WHITE, color_mode="fixed", default_size=24),
                                 eraser=gr.Eraser(default_size=24))
        with gr.Row():
            mask_upload = gr.Image(label="Or upload a mask (white = repaint)", type="pil", sources=("upload", "clipboard"),
                                   height=160, elem_id=f"{prefix}-mask-upload")
            to_unit = gr.Button(f"Use the picture as {target}", size="sm", elem_id=f"{prefix}-to-unit")
        denoising_strength = schema_slider(REQUEST["denoising_strength"], limits, 0.01, "Denoising strength",
                                           f"{prefix}-strength")
        init_resize_mode = schema_choices(REQUEST["init_resize_mode"], "Resize mode (picture to output size)",
                                          f"{prefix}-resize-mode", radio=True)
        with gr.Row():
            mask_blur = schema_slider(REQUEST["mask_blur"], limits, 1, "Mask blur", f"{prefix}-mask-blur")
            inpaint_padding = schema_slider(REQUEST["inpaint_padding"], limits, 4, "Only masked padding, pixels",
                                            f"{prefix}-padding")
        mask_mode = schema_choices(REQUEST["mask_mode"], "Mask mode", f"{prefix}-mask-mode", radio=True)
        masked_content = schema_choices(REQUEST["masked_content"], "Masked content", f"{prefix}-masked-content", radio=True)
        inpaint_area = schema_choices(REQUEST["inpaint_area"], "Inpaint area", f"{prefix}-inpaint-area", radio=True)
    return Img2ImgControls(picture=picture, mask_upload=mask_upload, to_unit=to_unit,
                           denoising_strength=denoising_strength, init_resize_mode=init_resize_mode, mask_blur=mask_blur,
                           mask_mode=mask_mode, masked_content=masked_content, inpaint_area=inpaint_area,
                           inpaint_padding=inpaint_padding)


def with_panels(settings: SettingsControls, *panels) -> SettingsControls:
    """The tab's settings with these panels' controls in their schema fields (a panel's buttons are not settings)."""
    fields = settings.__dataclass_fields__
    return replace(settings, **{name: getattr(panel, name) for panel in panels for name in panel.__dataclass_fields__
                                if name in fields})


def picture_file(edited: dict | None, files: Scratch) -> str:
    """The img2img picture as a control image (an upload path, as a control image box takes)."""
    background = (edited or {}).get("background")
    if background is None:
        raise sentence("Upload a picture in the img2img panel first.")
    return str(files.save_png(background.convert("RGB"), "img2img-picture"))


def read_pictures(edited: dict | None, uploaded: Image.Image | None) -> tuple[Image.Image | None, Image.Image | None]:
    """(picture, mask): the editor's background, and every painted pixel (any layer) joined with an uploaded mask;
    no painted pixel and no upload is img2img (mask None)."""
    background = (edited or {}).get("background")
    if background is None:
        return None, None
    picture = background.convert("RGB")
    painted = np.zeros((picture.height, picture.width), dtype=bool)
    for layer in (edited or {}).get("layers") or []:
        if layer is not None and layer.size == picture.size:
            painted |= np.asarray(layer.convert("RGBA"))[..., 3] > 0
    if uploaded is not None:
        painted |= np.asarray(uploaded.convert("L").resize(picture.size)) >= 128
    return picture, Image.fromarray(painted.astype(np.uint8) * 255) if painted.any() else None
