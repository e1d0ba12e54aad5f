"""Models tab: what is loaded, loading or missing, with the exact fix, and memory in use."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from pipelines.architectures import ARCHITECTURES
from pipelines.tiny import BUILT_IN_MODELS, UNTRAINED_NOTICE
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
    if state.model in BUILT_IN_MODELS and state.message:
        return f"**Running the built-in untrained tiny model instead.** {state.message}"
    if state.model in BUILT_IN_MODELS:
        return f"**Untrained demo model ({state.model}).** {UNTRAINED_NOTICE}"
    return ""


CONTROLNET_HEADERS = ["condition", "ControlNet", "state", "how to fix"]


def controlnet_rows(status: dict, overrides: dict[str, str] | None = None,
                    needs: Callable[[str], list[tuple[str, str]]] = lambda condition: []) -> list[list[str]]:
    """The ControlNet each condition really uses (an operator's --controlnet override wins) and its state: in memory,
    built in (the tiny model's random ones), on disk, a download, or why it cannot run and how to fix that."""
    resident = set(status.get("controlnets", ()))
    defaults = ARCHITECTURES[status.get("architecture", "sd15")].controlnets  # the loaded model's (SD1.5 until loaded)
    rows = []
    for condition, repo in {**defaults, **(overrides or {})}.items():
        fix = ""
        if repo in resident:
            state = "in memory"
        elif status.get("tiny") and repo == defaults.get(condition):
            state = "built in (tiny model, random weights)"
        else:
            wanted = needs(condition)  # with --ray a round trip to a replica: asked once
            blocked = [text for kind, text in wanted if kind == "cannot run"]
            downloads = [text for kind, text in wanted if kind == "download"]
            state = "cannot run" if blocked else "downloads on first use" if downloads else "on disk, loads on first use"
            fix = " ".join(blocked) or "; ".join(downloads)
        rows.append([condition, repo, state, fix])
    return rows


def summary_text(state, status: dict) -> str:
    """The base model, where it runs and the memory it holds, in one line a person reads at a glance."""
    model = f"{state.model} (untrained, random weights)" if status.get("tiny") else state.model
    parts = [f"**Base model:** {model} · {state.phase}"]
    if status:
        parts.append(f"{status.get('device')} · {status.get('dtype')}" + (" · CPU offload" if status.get("cpu_offload") else ""))
        memory = f"RAM {status['rss_mb'] / 1024:.1f} GB" if "rss_mb" in status else ""
        parts.append(memory + (f" · GPU {status['vram_mb'] / 1024:.1f} GB" if "vram_mb" in status else ""))
    if state.message:
        parts.append(state.message)
    return "  \n".join(part for part in parts if part)


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
        summary = gr.Markdown(elem_id="models-summary")
        replicas = gr.Dataframe(headers=REPLICA_HEADERS, label="Replicas (--ray)", interactive=False, visible=False,
                                elem_id="models-replicas")
        controlnets = gr.Dataframe(headers=CONTROLNET_HEADERS, label="ControlNets", interactive=False, wrap=True,
                                   elem_id="models-controlnets")
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
        needs = (lambda condition: backend.controlnet_needs(condition, None)) if state.phase == "ready" else (lambda c: [])
        return (summary_text(state, status), gr.Dataframe(rows, visible=bool(rows)),
                controlnet_rows(status, overrides, needs), annotator_rows(backend),
                gr.update(visible=state.model not in BUILT_IN_MODELS))

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

    outputs = [summary, replicas, controlnets, annotator_table, use_tiny]
    tab.select(refresh_all, None, outputs, queue=False, api_visibility="private")
    refresh.click(refresh_all, None, outputs, queue=False, api_visibility="private")
    slots = backend.jobs_at_once  # gradio's limit for a concurrency id is the smallest any of its events asks
    unload.click(unload_all, None, outputs, concurrency_id=GPU, concurrency_limit=slots, api_visibility="private")
    use_tiny.click(switch_to_tiny, None, [*outputs, banner], concurrency_id=GPU, concurrency_limit=slots,
                   api_visibility="private")
    return operator_row
