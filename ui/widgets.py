"""Widgets shared by the tabs: a ControlNet unit's controls and the sampler settings, drawn from the limits."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from pipelines.controlnets import CONDITIONS
from pipelines.limits import Limits
from pipelines.requests import CONTROL_MODES, RESIZE_MODES
from pipelines.samplers import SAMPLER_NAMES
from preprocessors import families, get_spec
from ui.studio import Settings, UnitSettings


@dataclass
class UnitControls:
    """Components of one ControlNet unit accordion."""

    enabled: gr.Checkbox
    image: gr.Image
    family: gr.Dropdown
    module: gr.Dropdown
    condition: gr.Dropdown
    model: gr.Textbox
    own_map: gr.Checkbox
    threshold_a: gr.Slider
    threshold_b: gr.Slider
    processor_res: gr.Slider
    pixel_perfect: gr.Checkbox
    weight: gr.Slider
    guidance_start: gr.Slider
    guidance_end: gr.Slider
    control_mode: gr.Radio
    resize_mode: gr.Radio
    preview: gr.Image

    def inputs(self) -> set:
        return {self.enabled, self.image, self.module, self.condition, self.model, self.own_map, self.threshold_a,
                self.threshold_b, self.processor_res, self.pixel_perfect, self.weight, self.guidance_start,
                self.guidance_end, self.control_mode, self.resize_mode}

    def read(self, data: dict) -> UnitSettings:
        """The unit as the user set it; "use my own map" means the upload is passed through as the map."""
        spec = get_spec(data[self.module])
        return UnitSettings(
            image=data[self.image], module="none" if data[self.own_map] else data[self.module],
            condition=data[self.condition] if data[self.own_map] or data[self.condition] != "auto" else (spec.condition or "auto"),
            model=data[self.model], weight=data[self.weight], guidance_start=data[self.guidance_start],
            guidance_end=data[self.guidance_end], control_mode=data[self.control_mode], resize_mode=data[self.resize_mode],
            processor_res=int(data[self.processor_res]),
            threshold_a=data[self.threshold_a] if spec.threshold_a else None,
            threshold_b=data[self.threshold_b] if spec.threshold_b else None,
            pixel_perfect=data[self.pixel_perfect], enabled=data[self.enabled],
        )


def slider_updates(module: str) -> tuple[dict, dict]:
    """Threshold sliders follow the chosen variant: its labels, ranges and defaults, hidden when unused."""
    spec = get_spec(module)
    updates = []
    for param in (spec.threshold_a, spec.threshold_b):
        if param is None:
            updates.append(gr.update(visible=False))
        else:
            updates.append(gr.update(visible=True, label=param.label, minimum=param.minimum, maximum=param.maximum,
                                     step=param.step, value=param.default))
    return updates[0], updates[1]


def _threshold_slider(param, elem_id: str) -> gr.Slider:
    """A threshold slider drawn from the variant's declared range (hidden when the variant has none)."""
    if param is None:
        return gr.Slider(0, 1, value=0, label="Threshold", visible=False, elem_id=elem_id)
    return gr.Slider(param.minimum, param.maximum, value=param.default, step=param.step, label=param.label, elem_id=elem_id)


def unit_controls(index: int, limits: Limits, default_module: str = "canny") -> UnitControls:
    """Draw one A1111-style unit accordion; call inside a Blocks context."""
    family_names = families()
    default_family = get_spec(default_module).family
    with gr.Accordion(f"ControlNet unit {index}", open=index == 0):
        with gr.Row():
            enabled = gr.Checkbox(value=index == 0, label="Enable", elem_id=f"unit{index}-enabled")
            own_map = gr.Checkbox(value=False, label="Use my own map (skip the preprocessor)")
            pixel_perfect = gr.Checkbox(value=False, label="Pixel perfect")
        with gr.Row():
            image = gr.Image(label="Control image", type="filepath", sources=["upload", "clipboard"], height=260,
                             elem_id=f"unit{index}-image")
            preview = gr.Image(label="Map preview", interactive=False, height=260, format="png", elem_id=f"unit{index}-preview")
        with gr.Row():
            family = gr.Dropdown(list(family_names), value=default_family, label="Condition family", elem_id=f"unit{index}-family")
            module = gr.Dropdown(family_names[default_family], value=default_module, label="Preprocessor", elem_id=f"unit{index}-module")
            condition = gr.Dropdown(["auto", *CONDITIONS], value="auto", label="ControlNet (auto = the preprocessor's)")
        model = gr.Textbox(label="Other ControlNet (hub id or path in an allowed folder; blank = v1.1 default)", max_lines=1)
        spec = get_spec(default_module)
        with gr.Row():
            threshold_a = _threshold_slider(spec.threshold_a, f"unit{index}-threshold-a")
            threshold_b = _threshold_slider(spec.threshold_b, f"unit{index}-threshold-b")
            processor_res = gr.Slider(limits.min_processor_res, limits.max_processor_res, value=512, step=8, label="Preprocessor resolution")
        with gr.Row():
            weight = gr.Slider(0, limits.max_weight, value=1.0, step=0.05, label="Control weight")
            guidance_start = gr.Slider(0, 1, value=0, step=0.01, label="Starting control step")
            guidance_end = gr.Slider(0, 1, value=1, step=0.01, label="Ending control step")
        control_mode = gr.Radio(list(CONTROL_MODES), value=CONTROL_MODES[0], label="Control mode")
        resize_mode = gr.Radio(list(RESIZE_MODES), value="Crop and Resize", label="Resize mode")
    return UnitControls(enabled, image, family, module, condition, model, own_map, threshold_a, threshold_b, processor_res,
                        pixel_perfect, weight, guidance_start, guidance_end, control_mode, resize_mode, preview)


@dataclass
class SettingsControls:
    """Prompt and sampler settings shared by Generate and Compare."""

    prompt: gr.Textbox
    negative_prompt: gr.Textbox
    sampler: gr.Dropdown
    steps: gr.Slider
    cfg_scale: gr.Slider
    seed: gr.Number
    width: gr.Slider
    height: gr.Slider
    batch_size: gr.Slider
    draft: gr.Checkbox

    def inputs(self) -> set:
        return set(self.__dict__.values())

    def read(self, data: dict) -> Settings:
        return Settings(
            prompt=data[self.prompt], negative_prompt=data[self.negative_prompt], steps=int(data[self.steps]),
            cfg_scale=float(data[self.cfg_scale]), sampler=data[self.sampler], seed=int(data[self.seed] if data[self.seed] is not None else -1),
            width=int(data[self.width]), height=int(data[self.height]), batch_size=int(data[self.batch_size]),
            draft=bool(data[self.draft]),
        )


def keep_copy_box(studio, elem_id: str) -> gr.Checkbox:
    """Whether this visitor's results are also saved on the server (off by default on a shared server)."""
    return gr.Checkbox(value=studio.keep_copies, label="Keep a copy in the server's outputs folder", elem_id=elem_id)


def prompt_row(prefix: str, run_label: str, run_id: str, stop_id: str) -> tuple[gr.Textbox, gr.Textbox, gr.Button, gr.Button]:
    """Prompt and negative prompt beside the run and Stop buttons, as every tab that generates lays them out."""
    with gr.Row():
        with gr.Column(scale=3):
            prompt = gr.Textbox(label="Prompt", lines=2, placeholder="a cozy cabin in a snowy forest, golden hour",
                                elem_id=f"{prefix}-prompt")
            negative = gr.Textbox(label="Negative prompt", lines=1, value="lowres, blurry, bad anatomy", elem_id=f"{prefix}-negative")
        with gr.Column(scale=1, min_width=180):
            run = gr.Button(run_label, variant="primary", elem_id=run_id)
            stop = gr.Button("Stop", variant="stop", elem_id=stop_id)
    return prompt, negative, run, stop


def wire_stop(stop: gr.Button, cancel_state: gr.State, event) -> None:
    """Stop flags this session's job (so the engine halts within a step) and cancels its Gradio event."""
    stop.click(lambda token: token.cancel() if token else None, cancel_state, None, queue=False, api_visibility="private")
    stop.click(None, None, None, cancels=[event], api_visibility="private")


def sampler_controls(prompt: gr.Textbox, negative: gr.Textbox, limits: Limits, prefix: str) -> SettingsControls:
    with gr.Row():
        sampler = gr.Dropdown(list(SAMPLER_NAMES), value="Euler a", label="Sampler")
        steps = gr.Slider(1, limits.max_steps, value=20, step=1, label="Steps", elem_id=f"{prefix}-steps")
        cfg_scale = gr.Slider(1, limits.max_cfg, value=7, step=0.5, label="CFG scale")
    with gr.Row():
        width = gr.Slider(limits.min_side, limits.max_side, value=512, step=8, label="Width", elem_id=f"{prefix}-width")
        height = gr.Slider(limits.min_side, limits.max_side, value=512, step=8, label="Height", elem_id=f"{prefix}-height")
        batch_size = gr.Slider(1, limits.max_batch, value=1, step=1, label="Batch size", elem_id=f"{prefix}-batch")
        seed = gr.Number(value=-1, precision=0, label="Seed (-1 = random)", elem_id=f"{prefix}-seed")
    draft = gr.Checkbox(value=False, label="Fast draft (LCM-LoRA: LCM sampler, 6 steps, CFG 1.5)", elem_id=f"{prefix}-draft")
    draft.input(_draft_defaults, draft, [sampler, steps, cfg_scale], queue=False, api_visibility="private")
    return SettingsControls(prompt, negative, sampler, steps, cfg_scale, seed, width, height, batch_size, draft)


def _draft_defaults(enabled: bool):
    """Draft mode needs LCM settings; switching it off restores the usual defaults."""
    return ("LCM", 6, 1.5) if enabled else ("Euler a", 20, 7.0)
