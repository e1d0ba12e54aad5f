"""Stop ends a job within a step, and the engine is immediately usable (and unchanged) afterwards."""

from __future__ import annotations

import pytest

from pipelines.engine import CancelToken, JobCancelled, StepUpdate
from tests.pipelines.helpers import make_request, pixel_diff

CANCEL_AT = 3


def test_cancel_from_the_step_callback_stops_within_a_step(engine, control_image):
    token = CancelToken()
    steps: list[int] = []

    def on_step(update: StepUpdate) -> None:
        steps.append(update.step)
        assert update.total == 20
        if update.step == CANCEL_AT:
            token.cancel()

    with pytest.raises(JobCancelled):
        engine.generate(make_request(control_image, steps=20, seed=5), on_step=on_step, cancel=token)
    assert steps[:CANCEL_AT] == [1, 2, 3]
    assert CANCEL_AT <= len(steps) <= CANCEL_AT + 1
    assert token.cancelled
    assert not engine._lock.locked()

    follow_up = make_request(control_image, steps=3, seed=77)
    after_cancel = engine.generate(follow_up, cancel=CancelToken())
    fresh = engine.generate(follow_up)
    assert pixel_diff(after_cancel.images[0], fresh.images[0]) == 0
    assert not engine._lock.locked()


def test_a_token_cancelled_before_start_runs_no_step(engine, control_image):
    token = CancelToken()
    token.cancel()
    steps: list[int] = []
    with pytest.raises(JobCancelled):
        engine.generate(make_request(control_image, steps=4), on_step=lambda u: steps.append(u.step), cancel=token)
    assert steps == []
    assert not engine._lock.locked()
