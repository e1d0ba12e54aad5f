"""The XY matrix's axis syntax (A1111's XYZ plot): lists, ranges with a step, counts, quoted text, Prompt S/R, and
the sentences that refuse what the engine would not run."""

from __future__ import annotations

import pytest

from pipelines.axes import AXES, PROMPT_SR, parse_axis
from pipelines.limits import Limits
from pipelines.schema import RequestError


@pytest.mark.parametrize(("name", "text", "values"), [
    ("weight", "0.4, 0.7, 1", (0.4, 0.7, 1.0)),
    ("weight", "0.2-1.0 (+0.2)", (0.2, 0.4, 0.6, 0.8, 1.0)),
    ("guidance_end", "1-0.5 (-0.25)", (1.0, 0.75, 0.5)),
    ("guidance_start", "0-0.6 [4]", (0.0, 0.2, 0.4, 0.6)),
    ("seed", "1-4", (1, 2, 3, 4)),
    ("seed", "10-1 [4]", (10, 7, 4, 1)),
    ("steps", "10-30 (+10), 45", (10, 20, 30, 45)),
    ("steps", "1-10 [4]", (1, 4, 7, 10)),
    ("cfg_scale", " 3 ,  7.5,", (3.0, 7.5)),
    ("threshold_a", "50-150 (+50)", (50.0, 100.0, 150.0)),
    ("sampler", 'Euler a, "DPM++ 2M Karras"', ("Euler a", "DPM++ 2M Karras")),
    ("control_mode", "Balanced, ControlNet is more important", ("Balanced", "ControlNet is more important")),
    ("resize_mode", "Just Resize,Resize and Fill", ("Just Resize", "Resize and Fill")),
    (PROMPT_SR, 'cat, "dog, spotted", fox', ("cat", "dog, spotted", "fox")),
])
def test_values_read_as_a1111_reads_them(name, text, values):
    axis = parse_axis(name, text)
    assert axis.name == name and axis.values == values
    assert all(type(value) is type(expected) for value, expected in zip(axis.values, values))


def test_no_axis_is_one_row():
    assert parse_axis("none", "").values == (None,)


@pytest.mark.parametrize(("name", "text", "sentence"), [
    ("weight", "", "Give the weight axis at least one value"),
    ("weight", " , ,", "Give the weight axis at least one value"),
    ("weight", "heavy", "'heavy' is not a number"),
    ("weight", "0.5, 7", "The weight axis value '7' is refused: weight must be between 0 and 2"),
    ("weight", "0-1 (+0)", "has a step of 0"),
    ("weight", "0-1 (-0.5)", "steps away from its end"),
    ("steps", "1.5", "steps must be a whole number"),
    ("steps", "0-20 (+10)", "steps must be between 1 and"),
    ("seed", "1-100000", "makes 100000 values; this server allows 12 rows"),
    ("seed", "1-10 [0]", "asks for 0 values"),
    ("seed", "1-10 [1000000000]", "asks for 1000000000 values"),
    ("sampler", "Euler a, Euler z", "sampler must be one of"),
    ("control_mode", "Chaos", "control_mode must be one of"),
    ("width", "64, 128", "'width' cannot be an axis"),
    ("prompt", "a, b", "'prompt' cannot be an axis"),
    (PROMPT_SR, ", ".join(["x"] * 13), "has 13 values; this server allows 12 rows"),
    ("weight", "0.1," * 1000, "keep them under"),
])
def test_refusals_are_one_sentence_naming_the_value(name, text, sentence):
    with pytest.raises(RequestError) as caught:
        parse_axis(name, text)
    assert sentence in str(caught.value)


def test_an_operators_row_cap_applies():
    with pytest.raises(RequestError, match="allows 2 rows"):
        parse_axis("seed", "1, 2, 3", Limits(max_matrix_rows=2))


def test_every_axis_parses_its_own_example():
    """The sentence for an empty axis offers an example; that example must itself parse."""
    import re

    for name in AXES[1:]:
        with pytest.raises(RequestError) as caught:
            parse_axis(name, "")
        example = re.search(r"e\.g\. (.+?)\.$", str(caught.value))[1].split(" or ")[0]
        assert parse_axis(name, example).values
