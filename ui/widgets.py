"""Widgets shared by the tabs: a ControlNet unit's controls and the sampler settings, drawn from the limits."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from pipelines.limits import Limits
from pipelines.requests import AUTO, ControlUnit, GenerationRequest
from pipelines.schema import schema_fields
from preprocessors import families, get_spec
from ui.map_editor import MapEdit, palette
from ui.pose_editor import PoseControls, pose_controls

UNIT_FIELDS = schema_fields(ControlUnit)
REQUEST_FIELDS = schema_fields(GenerationRequest)
UNIT = {item.name: item for item in UNIT_FIELDS}
REQUEST = {item.name: item for item in REQUEST_FIELDS}


def schema_slider(item, limits: Limits, step: float, label: str, elem_id: str | None = None) -> gr.Slider:
    """A slider whose range and default are the schema's (the same bounds the server checks)."""
    low, high = item.bounds(limits)
    return gr.Slider(low, high, value=item.default, step=step, label=label, elem_id=elem_id)


def schema_choices(item, label: str, elem_id: str | None = None, radio: bool = False):
    make = gr.Radio if radio else gr.Dropdown
    return make(list(item.setting.choices), value=item.default, label=label, elem_id=elem_id)


@dataclass
class UnitControls:
    """Components of one ControlNet unit accordion."""

    enabled: gr.Checkbox
    image: gr.Image
    family: gr.Dropdown
    module: gr.Dropdown
    condition: gr.Dropdown
    model: gr.Dropdown
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
    hr_option: gr.Radio
    editor: gr.ImageEditor  # the map: the preprocessor's, painted on or posed by the artist
    edited_from: gr.State  # the unit's MapEdit: what the preprocessor made, so an edit is known and can be reset
    preview_note: gr.Markdown
    preprocessor_row: gr.Row  # the preprocessor's sliders, hidden as one when the upload is the map
    reset: gr.Button
    to_compare: gr.Button
    ask: gr.Group  # "new settings would replace your edit": shown instead of replacing it
    use_new: gr.Button
    keep_edit: gr.Button
    pose: PoseControls

    def inputs(self) -> set:
        return {self.enabled, self.image, self.own_map, self.editor, *(getattr(self, item.name) for item in UNIT_FIELDS)}

    def read(self, data: dict) -> ControlUnit:
        """The unit as the user set it; "use my own map" means the upload is passed through as the map, and a map the
        artist edited is passed as the map with module none and the preprocessor it was edited from."""
        edit: MapEdit = data[self.edited_from]
        values = {item.name: data[getattr(self, item.name)] for item in UNIT_FIELDS if item.name != "edited_from"}
        spec = get_spec(values["module"])
        image, edited = data[self.image], edit.edit(data.get(self.editor))
        if edited is not None:
            values["edited_from"] = edit.module or ("none" if data[self.own_map] else values["module"])
            image, spec = edited, get_spec("none")
        if data[self.own_map] or edited is not None:
            values.update(module="none", family=get_spec("none").family)
        values.update(threshold_a=values["threshold_a"] if spec.threshold_a else None,
                      threshold_b=values["threshold_b"] if spec.threshold_b else None, model=values["model"] or None)
        return ControlUnit(image=image, **values)


def map_condition(chosen: str, module: str) -> str | None:
    """The ControlNet a map is for: the unit's choice, or with "auto" the one of the preprocessor that made the map."""
    return get_spec(module).condition if chosen == AUTO else chosen


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


def unit_controls(index: int, limits: Limits, default_module: str = "canny",
                  controlnets: list[str] = ()) -> UnitControls:
    """Draw one A1111-style unit accordion; call inside a Blocks context. Ranges, choices and defaults are the schema's."""
    family_names = families()
    spec = get_spec(default_module)
    eid = f"unit{index}"
    with gr.Accordion(f"ControlNet unit {index}", open=index == 0):
        with gr.Row():
            enabled = gr.Checkbox(value=index == 0, label="Enable", elem_id=f"{eid}-enabled")
            own_map = gr.Checkbox(value=False, label="Use my own map (skip the preprocessor)", elem_id=f"{eid}-own-map")
            pixel_perfect = gr.Checkbox(value=UNIT["pixel_perfect"].default, label="Pixel perfect", elem_id=f"{eid}-pixel-perfect")
        with gr.Row():
            image = gr.Image(label="Control image", type="filepath", sources=["upload", "clipboard"], height=260,
                             elem_id=f"{eid}-image")
            with gr.Column(min_width=160):
                editor = gr.ImageEditor(label="Map", type="pil", sources=(), transforms=(), layers=False,
                                        brush=palette(spec.condition, None), eraser=gr.Eraser(default_size=12), height=300,
                                        format="png", elem_id="map-editor" if index == 0 else f"{eid}-map-editor")
                preview_note = gr.Markdown(elem_id=f"{eid}-preview-note", elem_classes="map-note")
                with gr.Group(visible=False, elem_id=f"{eid}-ask") as ask:
                    gr.Markdown("You edited this map. The new settings make a new map: replace your edit with it?")
                    with gr.Row():
                        use_new = gr.Button("Use the new map", size="sm", elem_id=f"{eid}-use-new")
                        keep_edit = gr.Button("Keep my edit", size="sm", elem_id=f"{eid}-keep-edit")
                with gr.Row():
                    reset = gr.Button("Reset to detected", size="sm", elem_id=f"{eid}-map-reset")
                    to_compare = gr.Button("Send this map to Compare", size="sm", elem_id=f"{eid}-to-compare")
        pose = pose_controls("pose-editor" if index == 0 else f"{eid}-pose-editor")
        edited_from = gr.State(MapEdit)
        with gr.Row():
            family = gr.Dropdown(list(family_names), value=spec.family, label="Condition family", elem_id=f"{eid}-family")
            module = gr.Dropdown(family_names[spec.family], value=default_module, label="Preprocessor", elem_id=f"{eid}-module")
            condition = schema_choices(UNIT["condition"], "ControlNet (auto = the preprocessor's)", f"{eid}-condition")
        model = gr.Dropdown(list(controlnets) or [""], value="", allow_custom_value=True, elem_id=f"{eid}-model",
                            label="ControlNet model (blank = the condition's default; or a hub id this server allows)")
        with gr.Row(elem_id=f"{eid}-preprocessor-row") as preprocessor_row:
            threshold_a = _threshold_slider(spec.threshold_a, f"{eid}-threshold-a")
            threshold_b = _threshold_slider(spec.threshold_b, f"{eid}-threshold-b")
            processor_res = schema_slider(UNIT["processor_res"], limits, 8, "Preprocessor resolution", f"{eid}-processor-res")
        with gr.Row():
            weight = schema_slider(UNIT["weight"], limits, 0.05, "Control weight", f"{eid}-weight")
            guidance_start = schema_slider(UNIT["guidance_start"], limits, 0.01, "Starting control step", f"{eid}-guidance-start")
            guidance_end = schema_slider(UNIT["guidance_end"], limits, 0.01, "Ending control step", f"{eid}-guidance-end")
        control_mode = schema_choices(UNIT["control_mode"], "Control mode", f"{eid}-control-mode", radio=True)
        resize_mode = schema_choices(UNIT["resize_mode"], "Resize mode", f"{eid}-resize-mode", radio=True)
        hr_option = schema_choices(UNIT["hr_option"], "Hires fix passes", f"{eid}-hr-option", radio=True)
    return UnitControls(enabled=enabled, image=image, family=family, module=module, condition=condition, model=model,
                        own_map=own_map, threshold_a=threshold_a, threshold_b=threshold_b, processor_res=processor_res,
                        pixel_perfect=pixel_perfect, weight=weight, guidance_start=guidance_start, guidance_end=guidance_end,
                        control_mode=control_mode, resize_mode=resize_mode, hr_option=hr_option, editor=editor,
                        edited_from=edited_from,
                        preview_note=preview_note, preprocessor_row=preprocessor_row, reset=reset, to_compare=to_compare,
                        ask=ask, use_new=use_new, keep_edit=keep_edit, pose=pose)


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
    # img2img / inpaint (Generate's panel; None where a tab has none, which then runs the schema's defaults)
    picture: gr.ImageEditor | None = None
    mask_upload: gr.Image | None = None
    denoising_strength: gr.Slider | None = None
    init_resize_mode: gr.Radio | None = None
    mask_blur: gr.Slider | None = None
    mask_mode: gr.Radio | None = None
    masked_content: gr.Radio | None = None
    inpaint_area: gr.Radio | None = None
    inpaint_padding: gr.Slider | None = None
    enable_hr: gr.Checkbox | None = None  # hires fix (Generate's panel)
    hr_upscaler: gr.Dropdown | None = None
    hr_scale: gr.Slider | None = None
    hr_second_pass_steps: gr.Slider | None = None
    hr_resize_x: gr.Slider | None = None
    hr_resize_y: gr.Slider | None = None

    def inputs(self) -> set:
        return {control for control in self.__dict__.values() if control is not None}

    def read(self, data: dict, units: tuple[ControlUnit, ...] = ()) -> GenerationRequest:
        from ui.img2img_panel import read_pictures

        values = {item.name: item.default if getattr(self, item.name) is None else data[getattr(self, item.name)]
                  for item in REQUEST_FIELDS}
        if values["seed"] is None:  # an emptied seed box means random, as -1 does
            values["seed"] = -1
        if self.picture is not None:
            values["init_image"], values["mask"] = read_pictures(data[self.picture], data[self.mask_upload])
        return GenerationRequest(units=units, **values)


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


def wire_stop(stop: gr.Button, cancel_state: gr.State, event, view: tuple | None = None) -> None:
    """Stop flags this session's job (so the engine halts within a step) and cancels its Gradio event; `view`
    (fn, inputs, outputs) then shows the stopped state, since the cancelled event says nothing more."""
    stop.click(lambda token: token.cancel() if token else None, cancel_state, None, queue=False, api_visibility="private")
    fn, inputs, outputs = view or (None, None, None)
    stop.click(fn, inputs, outputs, cancels=[event], queue=False, api_visibility="private")


def sampler_controls(prompt: gr.Textbox, negative: gr.Textbox, limits: Limits, prefix: str) -> SettingsControls:
    with gr.Row():
        sampler = schema_choices(REQUEST["sampler"], "Sampler", f"{prefix}-sampler")
        steps = schema_slider(REQUEST["steps"], limits, 1, "Steps", f"{prefix}-steps")
        cfg_scale = schema_slider(REQUEST["cfg_scale"], limits, 0.5, "CFG scale", f"{prefix}-cfg")
    with gr.Row():
        width = schema_slider(REQUEST["width"], limits, 8, "Width", f"{prefix}-width")
        height = schema_slider(REQUEST["height"], limits, 8, "Height", f"{prefix}-height")
        batch_size = schema_slider(REQUEST["batch_size"], limits, 1, "Batch size", f"{prefix}-batch")
        seed = gr.Number(value=REQUEST["seed"].default, precision=0, label="Seed (-1 = random)", elem_id=f"{prefix}-seed")
    draft = gr.Checkbox(value=REQUEST["draft"].default, label="Fast draft (LCM-LoRA: LCM sampler, 6 steps, CFG 1.5)",
                        elem_id=f"{prefix}-draft")
    draft.input(_draft_defaults, draft, [sampler, steps, cfg_scale], queue=False, api_visibility="private")
    return SettingsControls(prompt=prompt, negative_prompt=negative, sampler=sampler, steps=steps, cfg_scale=cfg_scale,
                            seed=seed, width=width, height=height, batch_size=batch_size, draft=draft)


def _draft_defaults(enabled: bool):
    """Draft mode needs LCM settings; switching it off restores the schema's defaults."""
    if enabled:
        return "LCM", 6, 1.5
    return REQUEST["sampler"].default, REQUEST["steps"].default, REQUEST["cfg_scale"].default
