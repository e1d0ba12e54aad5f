"""Generate's hires fix panel: A1111's second pass at a larger size (the settings drawn from the schema)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from pipelines.limits import Limits
from ui.widgets import REQUEST, schema_choices, schema_slider


@dataclass
class HiresControls:
    enable_hr: gr.Checkbox
    hr_upscaler: gr.Dropdown
    hr_scale: gr.Slider
    hr_second_pass_steps: gr.Slider
    hr_resize_x: gr.Slider
    hr_resize_y: gr.Slider


def hires_panel(limits: Limits) -> HiresControls:
    """Upscaler, scale (or a size), second-pass steps; the second pass's strength is img2img's Denoising strength."""
    with gr.Accordion("Hires fix: a second pass at a larger size", open=False, elem_id="hires-panel"):
        enable_hr = gr.Checkbox(value=REQUEST["enable_hr"].default, label="Hires fix (uses Denoising strength from "
                                "the img2img panel; units choose their passes)", elem_id="hires-enable")
        with gr.Row():
            hr_upscaler = schema_choices(REQUEST["hr_upscaler"], "Upscaler", "hires-upscaler")
            hr_scale = schema_slider(REQUEST["hr_scale"], limits, 0.05, "Upscale by", "hires-scale")
            hr_second_pass_steps = schema_slider(REQUEST["hr_second_pass_steps"], limits, 1,
                                                 "Hires steps (0 = same as Steps)", "hires-steps")
        with gr.Row():
            hr_resize_x = schema_slider(REQUEST["hr_resize_x"], limits, 8, "Resize width to (0 = by scale)", "hires-width")
            hr_resize_y = schema_slider(REQUEST["hr_resize_y"], limits, 8, "Resize height to (0 = by scale)", "hires-height")
    return HiresControls(enable_hr=enable_hr, hr_upscaler=hr_upscaler, hr_scale=hr_scale,
                         hr_second_pass_steps=hr_second_pass_steps, hr_resize_x=hr_resize_x, hr_resize_y=hr_resize_y)
