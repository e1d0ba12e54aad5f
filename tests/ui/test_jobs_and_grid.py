"""The job streamer (progress, cancel on early close, errors) and the labelled comparison grid."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from pipelines.denoise import JobCancelled
from pipelines.engine import CancelToken, StepUpdate
from pipelines.streaming import Done, stream_job
from studio.grid import CAPTION_HEIGHT, ROW_LABEL_WIDTH, labelled_grid


def test_stream_job_yields_every_step_then_the_result():
    def work(on_step, cancel):
        for step in range(1, 4):
            on_step(StepUpdate(step, 3))
        return "image"

    items = list(stream_job(work, CancelToken()))
    assert [item.step for item in items[:-1]] == [1, 2, 3]
    assert items[-1] == Done("image")


def test_closing_the_stream_early_cancels_the_job():
    started, finished = threading.Event(), threading.Event()

    def work(on_step, cancel):
        started.set()
        for step in range(1, 1000):
            if cancel.cancelled:
                finished.set()
                raise JobCancelled()
            on_step(StepUpdate(step, 1000))
            threading.Event().wait(0.01)
        return "never"

    token = CancelToken()
    stream = stream_job(work, token)
    assert next(stream).step == 1
    stream.close()  # what Gradio does when Stop is pressed or the tab closes
    assert token.cancelled
    assert finished.wait(5)


def test_errors_reach_the_consumer():
    def work(on_step, cancel):
        raise ValueError("broken input")

    with pytest.raises(ValueError, match="broken input"):
        list(stream_job(work, CancelToken()))


def test_labelled_grid_puts_each_map_above_its_results():
    red, blue = Image.new("RGB", (32, 24), "red"), Image.new("RGB", (32, 24), "blue")
    grid = labelled_grid([("canny", [red, blue]), ("depth_midas_long_name", [blue, red])])
    assert grid.size == (64, 48 + CAPTION_HEIGHT)
    pixels = np.asarray(grid)
    assert tuple(pixels[CAPTION_HEIGHT + 2, 2]) == (255, 0, 0) and tuple(pixels[CAPTION_HEIGHT + 30, 2]) == (0, 0, 255)
    assert tuple(pixels[CAPTION_HEIGHT + 2, 40]) == (0, 0, 255)
    caption = pixels[:CAPTION_HEIGHT]
    assert (caption < 128).any(axis=2)[:, :32].any() and (caption < 128).any(axis=2)[:, 32:].any()  # both captioned


def test_row_labels_get_a_gutter_and_the_parameters_ride_in_the_png():
    red, blue = Image.new("RGB", (32, 24), "red"), Image.new("RGB", (32, 24), "blue")
    grid = labelled_grid([("canny", [red, blue, red])], row_labels=["map", "weight = 0.5", "weight = 1"],
                         parameters="a fox\nSteps: 2, Sampler: Euler, Seed: 1")
    assert grid.size == (ROW_LABEL_WIDTH + 32, 3 * 24 + CAPTION_HEIGHT)
    pixels = np.asarray(grid)
    assert tuple(pixels[CAPTION_HEIGHT + 2, ROW_LABEL_WIDTH + 2]) == (255, 0, 0)
    gutter = (pixels[CAPTION_HEIGHT:, :ROW_LABEL_WIDTH] < 128).any(axis=2)
    assert all(gutter[row * 24:(row + 1) * 24].any() for row in range(3))  # every row captioned
    assert grid.info["parameters"].startswith("a fox")
