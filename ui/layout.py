"""The whole page: banner, tabs, API endpoints, and the queue settings that keep one job on the accelerator."""

from __future__ import annotations

import gradio as gr

from studio import Studio
from ui.access import Access
from ui.api import register_api
from ui.compare_tab import build_compare_tab
from ui.concurrency import QueueGuard
from ui.disk import cache_schedule
from ui.generate_tab import build_generate_tab
from ui.history_tab import build_history_tab
from ui.model_fit import wire_model_fit
from ui.models_tab import banner_text, build_models_tab

TITLE = "ControlNet Studio"
# gradio caps a gallery at 55% of the window with an inner scroll; the matrix must show all its rows at once, and at
# 1366x768 a 6-column grid's 4 rows (maps + 3) are short enough to read on the page itself.
CSS = """#compare-gallery .grid-wrap { max-height: none !important; overflow-y: visible !important; }
/* On a phone the two Generate columns stack: the results go first, right under the prompt and the Generate button
   (they sat ~4,000 px below it, after every unit and setting). */
@media (max-width: 767px) { #gen-results-column { order: -1; } }
/* The units (the control image an artist came to use) above the sampler settings, as in the Compare tab. */
#gen-units { order: -1; }
/* A unit's map line keeps its height while maps come and go, so the controls under it never jump under a click. */
.map-note { min-height: 4.5em; }
"""


def build_demo(studio: Studio, access: Access | None = None, queue_size: int = 16, cache_hours: float = 6.0) -> gr.Blocks:
    """Build the Blocks app around one Studio (which holds the one engine)."""
    backend = studio.backend
    access = access or Access()
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=cache_schedule(cache_hours)) as demo:
        gr.Markdown(f"# {TITLE}\nType a prompt, upload a control image, pick a condition — then compare conditions side by side.")
        banner = gr.Markdown(banner_text(backend), elem_id="banner")
        with gr.Tabs(selected="generate") as tabs:
            generate = build_generate_tab(studio, studio.limits)
            compared, compare_settings = build_compare_tab(studio, studio.limits, generate, tabs)
            build_history_tab(studio, generate, tabs, compared)
            operator_row = build_models_tab(backend, banner, access, studio.controlnet_overrides)
        def operator_view(request: gr.Request):
            return gr.update(visible=access.is_operator(request))

        demo.load(operator_view, None, operator_row, queue=False, api_visibility="private")

        sizes = [generate.settings.width, generate.settings.height, compare_settings.width, compare_settings.height]
        wire_model_fit(demo, studio, banner, sizes, [unit.model for unit in generate.units])
        guard = QueueGuard(access.max_jobs_per_visitor, preview_jobs=2 * studio.limits.max_units)  # each unit: one runs, one waits
        register_api(studio, guard)
    # api_open=False: the /run route would call a queued function directly, past the queue and its GPU limit
    demo.queue(max_size=queue_size, default_concurrency_limit=1, api_open=False)
    guard.attach(demo)
    return demo
