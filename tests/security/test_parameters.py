"""Out-of-range, non-finite, unknown and oversized parameters through the real server: a sentence, then business as usual."""

from __future__ import annotations

import pytest
from gradio_client import handle_file
from PIL import Image

from tests.security.helpers import assert_still_generates, error_text, generate_body, raw_call, upload

pytestmark = pytest.mark.server

BAD_VALUES = [
    ({"width": 513}, "width must be a multiple of 8"),
    ({"width": 0}, "width must be between 64 and 2048"),
    ({"height": -8}, "height must be between 64 and 2048"),
    ({"width": 100000}, "width must be between 64 and 2048"),
    ({"steps": 0}, "steps must be between 1 and"),
    ({"steps": 10000}, "steps must be between 1 and"),
    ({"batch_size": 0}, "batch_size must be between 1 and"),
    ({"batch_size": 1000}, "batch_size must be between 1 and"),
    ({"sampler": "Euler z"}, "sampler must be one of Euler a"),
    ({"module": "rm -rf"}, "Unknown preprocessor 'rm -rf'"),
    ({"control_mode": "Chaos"}, "control_mode must be one of"),
    ({"prompt": "a" * 1_000_000}, "prompt is 1000000 characters long"),
    ({"negative_prompt": "b" * 1_000_000}, "negative_prompt is 1000000 characters long"),
]


@pytest.mark.parametrize("change, expected", BAD_VALUES, ids=[f"{k}={str(v)[:12]}" for c, _ in BAD_VALUES for k, v in c.items()])
def test_bad_generation_parameters_are_one_sentence(client, small_job, change, expected):
    """Hazard: resource exhaustion or crashes from unchecked API values (sizes, steps, batch, unknown names, 1 MB prompt).
    The server validates what the UI sliders would have prevented, names the field, and keeps serving."""
    with pytest.raises(Exception) as caught:
        client.predict(**{**small_job, **change}, api_name="/generate")
    assert expected in error_text(caught.value)
    assert_still_generates(client, small_job)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", '"7"', "null"])
def test_non_finite_or_non_numeric_cfg_scale_is_refused(served, control_path, value):
    """Hazard: NaN/inf numbers poisoning sampling (a silent black image). Sent as raw JSON, they get a sentence."""
    image = upload(served.url, control_path)
    event, payload = raw_call(served.url, "generate", generate_body(served.url, image, cfg_scale=value))
    assert event == "error"
    assert "cfg_scale must be" in error_text(payload["error"])
    event, payload = raw_call(served.url, "generate", generate_body(served.url, image))
    assert event == "complete"


def test_unknown_preprocessor_on_preprocess_is_a_sentence(client, control_path):
    """Hazard: unknown names reaching a registry lookup (KeyError tracebacks). /preprocess lists the valid names."""
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(str(control_path)), module="../../etc/passwd", api_name="/preprocess")
    assert "Unknown preprocessor" in error_text(caught.value) and "canny" in str(caught.value)


EMOJI_AND_CONTROL = "🎨🦄 café ☕ — naïve\r\nsecond line\x00nul\x1b[31mred\x1b[0m\ttab\x07bell\x7fdel\u200bzw \U0001f9ea end"


def test_emoji_and_control_character_prompts_round_trip_through_png_metadata(client, small_job):
    """Hazard: metadata corruption. Emoji, CR/LF, NUL, ESC and other control characters survive the PNG `parameters`
    chunk: the PNG /generate returns, read back by /png_info, gives the same prompt and negative prompt."""
    negative = "blurry\x00\r\x1b ☠"
    images, _, infotext = client.predict(**{**small_job, "prompt": EMOJI_AND_CONTROL, "negative_prompt": negative},
                                         api_name="/generate")
    assert Image.open(images[0]).info["parameters"] == infotext
    text, fields = client.predict(handle_file(images[0]), api_name="/png_info")
    assert text == infotext
    assert fields["prompt"] == EMOJI_AND_CONTROL and fields["negative_prompt"] == negative
    assert fields["Seed"] == "1" and fields["Steps"] == "2"


def test_text_that_is_not_unicode_is_refused_with_a_sentence(served, control_path):
    """Hazard: a lone UTF-16 surrogate (valid JSON, invalid text) crashing the tokenizer or the PNG writer."""
    image = upload(served.url, control_path)
    event, payload = raw_call(served.url, "generate", generate_body(served.url, image, prompt='"lone \\ud800 surrogate"'))
    assert event == "error"
    assert "not valid Unicode" in error_text(payload["error"])


def test_png_info_of_a_non_image_is_a_sentence(client, tmp_path):
    """Hazard: /png_info parsing an arbitrary upload."""
    junk = tmp_path / "notes.png"
    junk.write_text("not an image")
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(str(junk)), api_name="/png_info")
    assert "not an image we can read" in error_text(caught.value)
