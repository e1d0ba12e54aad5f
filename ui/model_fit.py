"""The page fits the loaded model: width and height start at its own size (SDXL 1024; SD1.5 512, the schema's
default), and each unit lists the ControlNets made for its architecture. The model may still be loading when the page
opens, so the banner's timer applies the fit once it is ready (sizes the artist already set are left alone)."""

from __future__ import annotations

import gradio as gr

from pipelines.requests import GenerationRequest
from studio import Studio
from studio.controlnet_choices import controlnet_choices
from ui.models_tab import banner_text

SCHEMA_SIZE = GenerationRequest.__dataclass_fields__["width"].default


def wire_model_fit(demo: gr.Blocks, studio: Studio, banner: gr.Markdown, sizes: list[gr.Slider],
                   controlnets: list[gr.Dropdown]) -> None:
    """On page load and on each banner tick until it has been done for this visitor. The tick sends no slider values
    (a value out of range would fail gradio's check every two seconds); a size slider's own input marks it set."""
    fitted, resized_by_hand = gr.State(False), gr.State(False)
    backend = studio.backend

    def fit(done: bool, by_hand: bool) -> list:
        text = banner_text(backend)
        if done or backend.state.phase != "ready":
            return [text, done] + [gr.skip()] * (len(sizes) + len(controlnets))
        architecture = studio.architecture()
        size = gr.skip() if by_hand or architecture.default_size == SCHEMA_SIZE else architecture.default_size
        choices = controlnet_choices(studio.model_roots, studio.controlnet_overrides, architecture)
        return [text, True] + [size] * len(sizes) + [gr.update(choices=choices)] * len(controlnets)

    private = dict(queue=False, api_visibility="private")
    options = dict(fn=fit, inputs=[fitted, resized_by_hand], outputs=[banner, fitted, *sizes, *controlnets],
                   show_progress="hidden", **private)
    demo.load(**options)
    gr.Timer(2.0).tick(**options)
    gr.on([slider.input for slider in sizes], lambda: True, None, resized_by_hand, **private)
