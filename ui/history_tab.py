"""History tab: this session's results, newest first, plus PNG info for any image (ours or A1111's)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
from PIL import Image

from pipelines.requests import RequestError
from studio import Studio
from studio.png_info import infotext_fields, infotext_of
from ui.errors import sentence, user_errors
from ui.generate_tab import GenerateTab
from ui.restore import restore, restore_targets

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class HistoryEntry:
    image: Image.Image
    infotext: str
    map: Image.Image | None


def read_png_info(path: str | None) -> tuple[str, dict]:
    """The `parameters` text of a PNG (or JPEG/WebP comment) and its parsed fields."""
    if not path:
        return "", {}
    try:
        with Image.open(path) as image:
            text = infotext_of(image)
    except (OSError, ValueError):
        raise RequestError("That file is not an image we can read; drop a PNG made by this app or A1111.") from None
    return text, infotext_fields(text)


def build_history_tab(studio: Studio, generate: GenerateTab, tabs: gr.Tabs, compared: gr.State) -> gr.Tab:
    """`compared` holds each finished matrix's cells, which land here too."""
    with gr.Tab("History", id="history") as tab:
        entries = gr.State([])
        with gr.Row():
            with gr.Column(scale=2):
                gallery = gr.Gallery(label="This session, newest first", format="png", columns=4, height=480, elem_id="history-gallery")
            with gr.Column(scale=1):
                chosen_text = gr.Textbox(label="Infotext", lines=6, interactive=False, elem_id="history-infotext")
                chosen_map = gr.Image(label="Map used", format="png", interactive=False, height=220)
                with gr.Row():
                    send = gr.Button("Send to Generate", elem_id="history-send")
                    to_img2img = gr.Button("Send to img2img", elem_id="history-to-img2img")
                chosen_image = gr.State(None)
        gr.Markdown("### PNG info\nDrop any PNG made by this app or by AUTOMATIC1111 to read its parameters.")
        with gr.Row():
            upload = gr.File(label="PNG", file_types=["image"], type="filepath", elem_id="pnginfo-file")
            with gr.Column():
                info_text = gr.Textbox(label="Parameters", lines=6, interactive=False, elem_id="pnginfo-text")
                info_fields = gr.JSON(label="Fields")
                send_info = gr.Button("Send to Generate", elem_id="pnginfo-send")

    def remember(results, history: list):
        """A result (Generate) or a matrix's results (Compare), newest first, capped."""
        if not results:
            return history, gr.skip()
        new = [HistoryEntry(image, text, result.maps[0] if result.maps else None)
               for result in (results if isinstance(results, list) else [results])
               for image, text in zip(result.images, result.infotexts)]
        history = (new[::-1] + history)[:HISTORY_LIMIT]
        return history, [(entry.image, entry.infotext.split("\n")[0][:60]) for entry in history]

    def select(history: list, event: gr.SelectData):
        entry = history[event.index]
        return entry.infotext, entry.map, entry.image

    def send_to_img2img(text: str, image):
        """The picture into Generate's img2img panel, with the settings that made it (A1111's "Send to img2img")."""
        if image is None:
            raise sentence("Pick an image first.")
        return {**send_back(text), generate.settings.picture: image}

    def send_back(text: str):
        if not text:
            raise sentence("Pick an image with parameters first.")
        with user_errors():
            return {**restore(generate, studio, text), tabs: gr.Tabs(selected="generate")}

    def show_info(path):
        with user_errors():
            return read_png_info(path)

    for finished in (generate.finished, compared):
        finished.change(remember, [finished, entries], [entries, gallery], queue=False, api_visibility="private")
    gallery.select(select, entries, [chosen_text, chosen_map, chosen_image], queue=False, api_visibility="private")
    targets = restore_targets(generate)
    generate.refresh_previews(to_img2img.click(send_to_img2img, [chosen_text, chosen_image],
                                               targets | {tabs, generate.settings.picture}, queue=False,
                                               api_visibility="private"))
    generate.refresh_previews(send.click(send_back, chosen_text, targets | {tabs}, queue=False, api_visibility="private"))
    upload.change(show_info, upload, [info_text, info_fields], queue=False, api_visibility="private")
    generate.refresh_previews(send_info.click(send_back, info_text, targets | {tabs}, queue=False, api_visibility="private"))
    return tab
