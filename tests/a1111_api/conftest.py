"""Two servers with `--api`, booted at once: an open one (this machine only) and one behind logins with a one-job
queue. Real clients drive them: webuiapi, sd-parsers, and raw JSON as the extension's users send it."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from tests.server import RunningApp, launch_app, running_fleet

USER, PASSWORD = "artist", "correct horse"


def png_b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def drawing() -> Image.Image:
    """A 64x64 drawing with edges (a white box, a grey bar) for canny and the ControlNets."""
    picture = Image.new("RGB", (64, 64))
    picture.paste((255, 255, 255), (12, 8, 44, 52))
    picture.paste((128, 128, 128), (4, 56, 60, 62))
    return picture


@pytest.fixture(scope="session")
def api_servers(tmp_path_factory) -> dict[str, RunningApp]:
    folder = tmp_path_factory.mktemp("a1111")
    launches = {
        "open": launch_app(folder, "--api"),
        "locked": launch_app(folder, "--api", "--queue-size", "1", "--lazy-preprocessors",
                             env={"STUDIO_AUTH": f"{USER}:{PASSWORD}"}),
    }
    with running_fleet(launches) as running:
        yield running


@pytest.fixture(scope="session")
def open_api(api_servers) -> RunningApp:
    return api_servers["open"]


@pytest.fixture(scope="session")
def locked_api(api_servers) -> RunningApp:
    return api_servers["locked"]


@pytest.fixture
def webui(open_api):
    import webuiapi

    host, port = open_api.url.removeprefix("http://").rstrip("/").split(":")
    return webuiapi.WebUIApi(host=host, port=int(port), sampler="Euler a", steps=3)
