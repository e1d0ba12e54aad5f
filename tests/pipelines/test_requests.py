"""Server-side validation: every bad field is refused with a sentence naming it; -1 seeds become concrete."""

from __future__ import annotations

import pytest

from pipelines.infotext import parse_infotext, request_from_infotext
from pipelines.requests import RequestError
from pipelines.samplers import SAMPLER_NAMES
from tests.pipelines.helpers import make_request, pixel_diff, with_unit

BAD_REQUESTS = [
    *[({side: value}, side) for side in ("width", "height") for value in (513, 0, -8, 100_000)],
    ({"steps": 0}, "steps"),
    ({"steps": 10_000}, "steps"),
    ({"cfg_scale": float("nan")}, "cfg_scale"),
    ({"cfg_scale": float("inf")}, "cfg_scale"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 1000}, "batch_size"),
    ({"sampler": "Euler z"}, "sampler"),
    ({"prompt": "x" * 1_000_000}, "prompt"),
    ({"negative_prompt": "y" * 1_000_000}, "negative_prompt"),
    ({"seed": -2}, "seed"),
    ({"steps": 2.5}, "steps"),
]
BAD_UNITS = [
    ({"control_mode": "Prompt rules"}, "control_mode"),
    ({"resize_mode": "Stretch"}, "resize_mode"),
    ({"guidance_start": 0.8, "guidance_end": 0.2}, "guidance_start"),
    ({"weight": float("nan")}, "weight"),
    ({"processor_res": 10}, "processor_res"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_REQUESTS, ids=[f"{f}={str(list(c.values())[0])[:12]}" for c, f in BAD_REQUESTS])
def test_bad_request_fields_are_named(engine, control_image, changes, field):
    with pytest.raises(RequestError) as error:
        engine.generate(make_request(control_image, **changes))
    message = str(error.value)
    assert field in message and message.endswith(".") and len(message) < 400
    assert not engine._lock.locked()


@pytest.mark.parametrize(("changes", "field"), BAD_UNITS, ids=[f for _, f in BAD_UNITS])
def test_bad_unit_fields_are_named(engine, control_image, changes, field):
    with pytest.raises(RequestError, match=f"ControlNet unit 0 {field}"):
        engine.generate(with_unit(make_request(control_image), **changes))
    with pytest.raises(RequestError, match=field):
        engine.compare(make_request(control_image, units=()), [with_unit(make_request(control_image), **changes).units[0]])


def test_a_unit_without_an_image_is_refused(engine, control_image):
    with pytest.raises(RequestError, match="unit 0 has no control image"):
        engine.generate(with_unit(make_request(control_image), image=None))


def test_seed_minus_one_is_recorded_and_reproduces_the_image(engine, control_image):
    request = make_request(control_image, seed=-1, steps=3, sampler="Euler a")
    first = engine.generate(request)
    seed = first.request.seed
    assert 0 <= seed <= 2**32 - 1 and first.seeds == [seed]
    assert parse_infotext(first.infotexts[0]).params["Seed"] == str(seed)
    again = engine.generate(request_from_infotext(first.infotexts[0], control_image))
    assert again.seeds == [seed]
    assert pixel_diff(first.images[0], again.images[0]) == 0


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_every_sampler_reproduces_by_seed_and_batch_rows_are_seed_plus_i(engine, control_image, sampler):
    """Before: "DPM++ SDE Karras" gave different pixels for the same request (max difference 169/255): diffusers drew
    its Brownian noise from the global RNG. Now every sampler repeats itself, and image i of a batch equals a batch-1
    request with seed + i (A1111's promise), because each image's noise comes from its own seed. (Up to 1/255: the
    CPU's convolution kernels sum in a different order for a batch of 3 than for 1; the noise itself is the same.)"""
    draft = sampler == "LCM"
    settings = dict(steps=4, sampler=sampler, cfg_scale=1.5 if draft else 7.0)
    batch = engine.generate(make_request(control_image, seed=70, batch_size=3, **settings), save=False)
    again = engine.generate(make_request(control_image, seed=70, batch_size=3, **settings), save=False)
    alone = engine.generate(make_request(control_image, seed=72, **settings), save=False)
    assert all(pixel_diff(a, b) == 0 for a, b in zip(batch.images, again.images))
    assert pixel_diff(batch.images[2], alone.images[0]) <= 1 / 255 + 1e-9
