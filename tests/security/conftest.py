"""The hardening suite's own servers: the real app.py on 127.0.0.1 with small limits, and hostile files to send it."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from app import AUTH_ENV
from tests.fakehub import add_file
from tests.security.helpers import QUEUE_SIZE, Payload, reference_image
from tests.server import RunningApp, launch_app, running_fleet

MAX_FILE_SIZE = "1mb"
LAZY = "--lazy-preprocessors"


@pytest.fixture(scope="session")
def marker(tmp_path_factory) -> Path:
    """Created only if some pickle payload was executed; every model test asserts it does not exist."""
    return tmp_path_factory.mktemp("marker") / "payload-ran"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory, marker) -> Path:
    """The folder the server allows ControlNets from (--models-dir), stocked with hostile and broken files."""
    folder = tmp_path_factory.mktemp("models")
    payload = pickle.dumps(Payload(marker))
    (folder / "evil.ckpt").write_bytes(payload)
    (folder / "evil.pt").write_bytes(payload)
    (folder / "pickle-named.safetensors").write_bytes(payload)  # a pickle under a safe name
    (folder / "corrupt.safetensors").write_bytes(b"\xff" * 8 + b"{not a json header")
    bin_only = folder / "bin-only"  # a diffusers folder whose weights are a pickled .bin
    bin_only.mkdir()
    (bin_only / "config.json").write_text('{"_class_name": "ControlNetModel"}')
    (bin_only / "diffusion_pytorch_model.bin").write_bytes(payload)
    (folder / "no-weights").mkdir()  # a model folder with its weight file missing
    (folder / "no-weights" / "config.json").write_text('{"_class_name": "ControlNetModel"}')
    (folder / "escape.safetensors").symlink_to("/etc/passwd")  # a link out of the allowed folder
    return folder


@pytest.fixture(scope="session")
def served(fleet) -> RunningApp:
    """The app as an operator would harden it: small queue, 1 MB uploads, one allowed model folder."""
    return fleet["served"]


@pytest.fixture(scope="session")
def client(served) -> Client:
    return Client(served.url, verbose=False)


@pytest.fixture(scope="session")
def control_path(tmp_path_factory) -> Path:
    """A ready-made 96x64 control map (used with module `none`, so no annotator weights are needed)."""
    path = tmp_path_factory.mktemp("control") / "control.png"
    reference_image().save(path)
    return path


@pytest.fixture(scope="session")
def small_job(control_path) -> dict:
    """The cheapest real generation: 64x64, 2 steps, the tiny model."""
    return dict(prompt="a house", image=handle_file(str(control_path)), module="none", condition="canny", steps=2,
                width=64, height=64, seed=1)


STRICT_JOB_SECONDS = 4
STRICT_MAX_SIDE = 256
PICKLED_HUB_REPO = "stranger/pickled-controlnet"


@pytest.fixture(scope="session")
def pickled_hub_repo(hub_cache, marker) -> str:
    """A hub-style ControlNet repo (in the offline cache) whose only weights are a pickle with a payload."""
    add_file(hub_cache, PICKLED_HUB_REPO, "config.json", b'{"_class_name": "ControlNetModel"}')
    add_file(hub_cache, PICKLED_HUB_REPO, "diffusion_pytorch_model.bin", pickle.dumps(Payload(marker)))
    return PICKLED_HUB_REPO


@pytest.fixture(scope="session")
def strict(fleet) -> RunningApp:
    """The app as shared with strangers: default per-visitor limit (2), a short job time limit and small images so
    the worst allowed request is seconds, not hours, and hub ids allowed (to show pickles still are not)."""
    return fleet["strict"]


@pytest.fixture(scope="session")
def short_lived(fleet) -> RunningApp:
    """A server whose disk is hostile or short-lived: uploads expire after 0.001 h (3.6 s), and its outputs folder
    sits under a file, so it can never be written (mkdir fails even for root)."""
    return fleet["short_lived"]


USER, PASSWORD = "painter", "s3cret:with:colons"  # the operator's login (--admin)
GUEST, GUEST_PASSWORD = "guest", "guest-pass"


@pytest.fixture(scope="session")
def locked(fleet) -> RunningApp:
    """An app behind two logins from the environment (so they stay out of the process list); USER is the operator."""
    return fleet["locked"]


@pytest.fixture
def proxied(fleet) -> RunningApp:
    """An app behind a reverse proxy's public path (GRADIO_ROOT_PATH, as SECURITY.md documents); one test uses it,
    so it stops afterwards instead of idling (5 % of a core) through the rest of the suite."""
    yield fleet["proxied"]
    fleet["proxied"].process.terminate()  # the fleet's teardown waits for it; its ~5 s shutdown overlaps the next tests


@pytest.fixture
def pickled_model(fleet) -> RunningApp:
    """An app started with `--model x.ckpt`, a pickle whose payload would create the marker file; stopped after its test."""
    yield fleet["pickled_model"]
    fleet["pickled_model"].process.terminate()  # the fleet's teardown waits for it


@pytest.fixture(scope="session")
def fleet(tmp_path_factory, models_dir, pickled_hub_repo, marker) -> dict[str, RunningApp]:
    """Every server this suite needs, booted at once (each boot is ~11 s of imports; one after another they took a
    minute of the suite's five) and stopped together."""
    folder = tmp_path_factory.mktemp("fleet")
    blocker = folder / "not-a-folder"
    blocker.write_text("a file where the outputs folder should be")
    checkpoint = folder / "model.ckpt"
    checkpoint.write_bytes(pickle.dumps(Payload(marker)))
    launches = {
        # one client sends eight jobs at once in test_load, hence the per-visitor limit of QUEUE_SIZE
        "served": launch_app(folder, "--queue-size", str(QUEUE_SIZE), "--max-file-size", MAX_FILE_SIZE, "--models-dir",
                             str(models_dir), "--max-jobs-per-visitor", str(QUEUE_SIZE)),
        "strict": launch_app(folder, "--allow-hub-models", env={"STUDIO_MAX_JOB_SECONDS": str(STRICT_JOB_SECONDS),
                                                                 "STUDIO_MAX_SIDE": str(STRICT_MAX_SIDE)}),
        # the servers below never run a preprocessor, so they skip importing controlnet-aux (~10 s of CPU each)
        "short_lived": launch_app(folder, "--cache-hours", "0.001", "--outputs", str(blocker / "outputs"), LAZY,
                                  env={"GRADIO_TEMP_DIR": str(folder / "gradio-uploads")}),
        "locked": launch_app(folder, "--admin", USER, LAZY, env={AUTH_ENV: f"{USER}:{PASSWORD}\n{GUEST}:{GUEST_PASSWORD}"}),
        "proxied": launch_app(folder, LAZY, env={"GRADIO_ROOT_PATH": "/studio"}),
        "pickled_model": launch_app(folder, LAZY, model=str(checkpoint)),
    }
    with running_fleet(launches) as running:
        running["short_lived"].uploads = folder / "gradio-uploads"
        yield running
