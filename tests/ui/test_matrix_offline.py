"""Offline, with most annotator weights missing: the runnable columns of a matrix render, and each other column says
in its cells which file it lacks and the command that fetches it, in the same run."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file

from preprocessors import get_spec
from preprocessors.registry import ANNOTATORS
from tests.fakehub import add_file
from tests.server import start_app
from ui.columns_editor import default_conditions

pytestmark = pytest.mark.server
RUNNABLE = ("canny", "softedge_pidinet")  # canny needs no weights; PiDiNet's are the only ones in this cache


@pytest.fixture(scope="module")
def partial_app(tmp_path_factory, annotators_ready):
    """The app on a hub cache that holds PiDiNet's weights and no other annotator's."""
    cache = tmp_path_factory.mktemp("partial-hub")
    filename = get_spec("softedge_pidinet").weights.filenames[0]
    add_file(cache, ANNOTATORS, filename, annotators_ready / filename)
    running = start_app(tmp_path_factory.mktemp("partial"), "--lazy-preprocessors", env={"HF_HUB_CACHE": str(cache)})
    yield running
    running.stop()


def test_columns_missing_weights_say_so_and_the_others_render(partial_app, drawing_path):
    columns = default_conditions()
    assert set(RUNNABLE) < set(columns) and len(columns) == 6
    items, captions, grid = Client(partial_app.url, verbose=False).predict(
        prompt="a house", image=handle_file(drawing_path), modules=columns, seed=3, steps=2, width=64, height=64,
        api_name="/compare")
    results = dict(zip(columns, captions[len(columns):]))
    for column in columns:
        if column in RUNNABLE:
            assert results[column] == f"{column} · seed 3"
        else:
            spec = get_spec(column)
            assert spec.weights.filenames[0] in results[column] and spec.weights.fetch_command() in results[column], results[column]
    assert len(items) == 2 * len(columns)
