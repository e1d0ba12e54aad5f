"""Models tab: what is loaded, loading or missing, with the exact fix, and memory in use."""

from __future__ import annotations

import gradio as gr

from pipelines.controlnets import CONTROLNET_MODELS
from pipelines.tiny import UNTRAINED_NOTICE
from serving import Backend
from ui.access import Access
from ui.concurrency import GPU
from ui.errors import user_errors


def banner_text(backend: Backend) -> str:
    """The line at the top of every page: loading, failed (and how to fix), or the untrained notice."""
    state = backend.state
    if state.phase == "loading":
        return f"**Loading.** {state.message} The page works meanwhile; jobs start when the model is ready."
    if state.phase == "failed":
        return f"**Model not loaded.** {state.message} The server's operator can press *Use the built-in tiny model* on the **Models** tab to try the app now."
    if state.model == "tiny" and state.message:
        return f"**Running the built-in untrained tiny model instead.** {state.message}"
    if state.model == "tiny":
        return f"**Untrained demo model.** {UNTRAINED_NOTICE}"
    return ""


def controlnet_rows(status: dict, overrides: dict[str, str] | None = None) -> list[list[str]]:
    """The ControlNet each condition really uses (an operator's --controlnet override wins) and whether it is loaded,
    from the backend's status."""
    resident = set(status.get("controlnets", ()))
    used = {**CONTROLNET_MODELS, **(overrides or {})}
    return [[condition, repo, "resident" if repo in resident else "loads on first use"] for condition, repo in used.items()]


REPLICA_HEADERS = ["replica", "state", "node", "pid", "recent jobs"]


def replica_rows(status: dict) -> list[list[object]]:
    """With --ray, one row per Serve replica (starting, running, restarting after a crash); none in-process."""
    return [[item["replica"], item["state"], str(item["node"])[:12], item["pid"], item["jobs"]]
            for item in status.get("replicas", ())]


def annotator_rows(backend: Backend) -> list[list[str]]:
    rows = []
    for status in backend.preprocessor_states():
        fix = getattr(status, "command", "") or ""
        rows.append([status.name, status.family, status.state, fix])
    return rows


def build_models_tab(backend: Backend, banner: gr.Markdown, access: Access,
                     overrides: dict[str, str] | None = None) -> gr.Row:
    """The tab; returns the row of operator actions, shown only to the operator (see Access)."""
    with gr.Tab("Models", id="models") as tab:
        summary = gr.JSON(label="Base model, device, memory", elem_id="models-summary")
        replicas = gr.Dataframe(headers=REPLICA_HEADERS, label="Replicas (--ray)", interactive=False, visible=False,
                                elem_id="models-replicas")
        controlnets = gr.Dataframe(headers=["condition", "ControlNet", "state"], label="ControlNets", interactive=False)
        annotator_table = gr.Dataframe(headers=["preprocessor", "family", "state", "how to fetch"], label="Preprocessors",
                                       interactive=False, wrap=True)
        refresh = gr.Button("Refresh")
        with gr.Row(visible=False, elem_id="operator-actions") as operator_row:
            unload = gr.Button("Unload ControlNets and annotators", elem_id="unload")
            use_tiny = gr.Button("Use the built-in tiny model", elem_id="use-tiny")

    def refresh_all():
        """One status call (with --ray, a round trip to a replica) feeds the summary and the ControlNet table."""
        state, status = backend.state, backend.status()
        rows = replica_rows(status)
        summary_value = {"model": state.model, "phase": state.phase, "message": state.message,
                         **{key: value for key, value in status.items() if key != "replicas"}}
        return (summary_value, gr.Dataframe(rows, visible=bool(rows)), controlnet_rows(status, overrides),
                annotator_rows(backend))

    def unload_all(request: gr.Request):
        access.require_operator(request)  # hidden buttons can still be called by their event id
        with user_errors():
            backend.unload()
        return refresh_all()

    def switch_to_tiny(request: gr.Request):
        access.require_operator(request)
        with user_errors():
            backend.switch("tiny")
        return (*refresh_all(), banner_text(backend))

    outputs = [summary, replicas, controlnets, annotator_table]
    tab.select(refresh_all, None, outputs, queue=False, api_visibility="private")
    refresh.click(refresh_all, None, outputs, queue=False, api_visibility="private")
    slots = backend.jobs_at_once  # gradio's limit for a concurrency id is the smallest any of its events asks
    unload.click(unload_all, None, outputs, concurrency_id=GPU, concurrency_limit=slots, api_visibility="private")
    use_tiny.click(switch_to_tiny, None, [*outputs, banner], concurrency_id=GPU, concurrency_limit=slots,
                   api_visibility="private")
    return operator_row
