"""The promise of a PNG: request -> infotext -> parsed request is the same request, and it makes the same pixels.

Property-based over random valid requests: every sampler, 0-3 units, every control and resize mode, explicit and
default thresholds, pixel perfect and draft on and off, batches of 1-3, unicode prompts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pipelines.architectures import CONDITIONS
from pipelines.infotext import request_from_infotext
from pipelines.requests import CONTROL_MODES, MAX_SEED, RESIZE_MODES, ControlUnit, GenerationRequest
from pipelines.samplers import SAMPLER_NAMES
from preprocessors import names
from preprocessors.registry import FAMILIES

EXAMPLES_PER_SAMPLER = 3
MAPS = (Image.new("RGB", (64, 64), (200, 30, 30)), Image.effect_noise((96, 40), 60).convert("RGB"))


def _line_safe(text: str) -> bool:
    """A1111's format cannot tell a prompt line that starts `Negative prompt:` from the real one, and drops the
    prompt's leading newlines (its first line is the prompt); every other text survives."""
    return not text.startswith("\n") and not any(line.startswith("Negative prompt:") for line in text.split("\n"))


_prompt = st.text(st.characters(exclude_categories=("Cs",)), max_size=40).filter(_line_safe)
_name = st.text(st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), max_size=12)  # a stranger's module name
_fraction = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def _unit(draw) -> ControlUnit:
    start, end = sorted((draw(_fraction), draw(_fraction)))
    return ControlUnit(
        image=draw(st.sampled_from(MAPS)), condition=draw(st.sampled_from(CONDITIONS)),
        module=draw(st.one_of(st.sampled_from(names()), _name)), family=draw(st.sampled_from(("", *FAMILIES))),
        weight=draw(st.floats(0.0, 2.0, allow_nan=False)), guidance_start=start, guidance_end=end,
        control_mode=draw(st.sampled_from(CONTROL_MODES)), resize_mode=draw(st.sampled_from(RESIZE_MODES)),
        processor_res=draw(st.integers(64, 2048)), pixel_perfect=draw(st.booleans()),
        threshold_a=draw(st.none() | st.floats(-1e6, 1e6, allow_nan=False)),
        threshold_b=draw(st.none() | st.floats(-1e6, 1e6, allow_nan=False)),
    )


@st.composite
def _request(draw, sampler: str) -> GenerationRequest:
    draft = sampler == "LCM" and draw(st.booleans())
    return GenerationRequest(
        prompt=draw(_prompt), negative_prompt=draw(_prompt), units=tuple(draw(st.lists(_unit(), max_size=3))),
        steps=draw(st.integers(2, 3)), sampler=sampler,
        cfg_scale=draw(st.floats(1.0, 2.0 if draft else 30.0, allow_nan=False)),
        seed=draw(st.integers(-1, MAX_SEED)), width=64, height=64, batch_size=draw(st.integers(1, 3)), draft=draft,
    )


def _same_maps(parsed: GenerationRequest, used: GenerationRequest) -> GenerationRequest:
    """The maps are pixels, not text: the PNG's reader supplies them (here, the very same images)."""
    return replace(parsed, units=tuple(replace(unit, image=source.image) for unit, source in zip(parsed.units, used.units)))


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_request_to_infotext_to_request_is_equal_and_makes_identical_pixels(engine, lcm_lora_repo, sampler):
    @settings(max_examples=EXAMPLES_PER_SAMPLER, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(request=_request(sampler))
    def round_trip(request: GenerationRequest) -> None:
        result = engine.generate(request, save=False)
        for index, text in enumerate(result.infotexts):  # image i's infotext is the request with its own seed
            parsed = _same_maps(request_from_infotext(text), result.request)
            assert parsed == replace(result.request, seed=result.seeds[index])
        again = engine.generate(_same_maps(request_from_infotext(result.infotexts[0]), result.request), save=False)
        assert [np.asarray(image).tobytes() for image in again.images] == [np.asarray(image).tobytes() for image in result.images]

    round_trip()
