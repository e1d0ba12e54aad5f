"""The condition matrix equals one generate call per condition, batched or not."""

from __future__ import annotations

from dataclasses import replace

from pipelines.infotext import parse_infotext
from tests.pipelines.helpers import make_request, pixel_diff

CONDITIONS = ("canny", "depth", "lineart")


def _units(image):
    return list(make_request(image, CONDITIONS).units)


def test_compare_equals_one_generate_per_condition(engine, control_image):
    request = make_request(control_image, units=(), seed=321, steps=3, sampler="DPM++ 2M")
    cells = engine.compare(request, _units(control_image))
    assert [cell.request.units[0].condition for cell in cells] == list(CONDITIONS)
    singles = [engine.generate(make_request(control_image, (c,), seed=321, steps=3, sampler="DPM++ 2M")) for c in CONDITIONS]
    for cell, single in zip(cells, singles):
        assert cell.seeds == single.seeds == [321]
        assert pixel_diff(cell.images[0], single.images[0]) <= 1 / 255
        assert pixel_diff(cell.maps[0], single.maps[0]) == 0
    # the conditions really differ, so the equality above is not trivially true
    assert pixel_diff(cells[0].images[0], cells[1].images[0]) > 2 / 255


def test_compare_with_a_batch_gives_seed_and_seed_plus_one_per_cell(engine, control_image):
    seed = 4_000_000_000
    request = make_request(control_image, units=(), seed=seed, steps=2, batch_size=2)
    cells = engine.compare(request, _units(control_image))
    assert len(cells) == 3
    for condition, cell in zip(CONDITIONS, cells):
        assert cell.seeds == [seed, seed + 1]
        assert len(cell.images) == len(cell.infotexts) == 2
        for image_seed, text, image in zip(cell.seeds, cell.infotexts, cell.images):
            parsed = parse_infotext(text)
            assert parsed.params["Seed"] == str(image_seed)
            assert [u["Module"] for u in parsed.units] == [condition]
            assert [u["Condition"] for u in parsed.units] == [condition]
            assert image.info["parameters"] == text
        assert pixel_diff(cell.images[0], cell.images[1]) > 2 / 255  # two seeds, two images
    second = engine.generate(make_request(control_image, ("depth",), seed=seed + 1, steps=2))
    assert pixel_diff(cells[1].images[1], second.images[0]) <= 1 / 255


def test_compare_with_a_random_seed_shares_one_concrete_seed(engine, control_image):
    cells = engine.compare(make_request(control_image, units=(), seed=-1, steps=2), _units(control_image)[:2])
    assert cells[0].seeds == cells[1].seeds and cells[0].seeds[0] >= 0
    assert cells[0].request.seed == cells[1].request.seed == cells[0].seeds[0]


def test_a_matrix_encodes_each_distinct_prompt_once_across_its_batches(engine, control_image, monkeypatch):
    import pipelines.engine as engine_module

    calls = []
    real = engine_module.encode_prompts
    monkeypatch.setattr(engine_module, "encode_prompts", lambda *args: calls.append(args[1]) or real(*args))
    base = make_request(control_image, units=(), seed=5, steps=1)
    unit = _units(control_image)[0]
    cells = [replace(base, prompt=prompt, units=(replace(unit, weight=weight),))
             for prompt in ("a house", "a tower") for weight in (0.2, 0.4, 0.6, 0.8, 1.0)]
    monkeypatch.setattr(engine, "matrix_batch", 2)  # five cells per prompt: three UNet batches each
    results = engine.matrix(cells, save=False)
    assert [result.request.prompt for result in results] == [cell.prompt for cell in cells]
    assert sorted(calls) == ["a house", "a tower"]
