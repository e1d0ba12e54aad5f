"""The linear parameter-line scanner finds exactly what A1111's regex finds, and stays linear on hostile lines."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.param_line import param_pairs

# A1111's own pattern (modules/infotext_utils.py): the reference the scanner must agree with on every line.
A1111_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
# Lines built from the characters that matter to the grammar, plus letters, digits, Unicode and odd whitespace.
GRAMMAR = st.text(alphabet=st.sampled_from(list('ab Z9_-/:,"\\\t\r é٣\u00a0\u2028')), max_size=60)


@given(GRAMMAR)
@settings(max_examples=3000, deadline=None)
def test_scanner_finds_what_a1111s_regex_finds(line):
    assert param_pairs(line) == A1111_PARAM.findall(line)


@given(st.text(max_size=80))
@settings(max_examples=1500, deadline=None)
def test_scanner_agrees_with_the_regex_on_arbitrary_unicode(line):
    assert param_pairs(line) == A1111_PARAM.findall(line)


def test_real_parameter_lines_parse_as_before():
    line = ('Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x512, '
            'ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1, Threshold A: 100", '
            'Version: v1.10.1')
    assert param_pairs(line) == A1111_PARAM.findall(line)
    assert dict(param_pairs(line))["ControlNet 0"].startswith('"Module: canny')


def _seconds(line: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        param_pairs(line)
        best = min(best, time.perf_counter() - started)
    return best


def test_hostile_lines_cost_time_linear_in_their_length():
    """Before: A1111's regex took 2.7 s on 20 000 letters with no colon and 42 s on 80 000 (4x longer, 16x slower).
    For each hostile shape, a line 8x longer must cost well under 64x (quadratic) the time: linear is ~8x."""
    for unit in ("a", "a ", 'k: "', "ab,", "-", "x: y"):
        short, long = unit * (4_000 // len(unit)), unit * (32_000 // len(unit))
        ratio = _seconds(long) / _seconds(short)
        assert ratio < 24, f"{unit!r}: 8x longer line took {ratio:.1f}x the time"
