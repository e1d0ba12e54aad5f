"""Starting the app: the default model falls back to tiny offline; the banner says why; flags parse."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from app import DEFAULT_MODEL, exposure_warning, make_auth_check, parse_args, parse_auth
from pipelines.architectures import SD15
from pipelines.lazy import LazyEngine
from pipelines.loading import ModelLoadError, missing_model_message
from tests.server import ROOT, start_app
from ui.models_tab import banner_text


def test_default_model_offline_with_no_cache_serves_tiny(tmp_path, drawing_path):
    empty_cache = tmp_path / "empty-hub"
    empty_cache.mkdir()
    app = start_app(tmp_path, model=None, env={"HF_HUB_CACHE": str(empty_cache)})
    try:
        client = Client(app.url, verbose=False)
        images, _, infotext = client.predict(prompt="x", image=handle_file(drawing_path), module="none", condition="canny",
                                             steps=2, width=64, height=64, seed=1, api_name="/generate")
        assert "Model: tiny" in infotext and Image.open(images[0]).size == (64, 64)
        log = app.log()
        assert f"Could not load the model '{DEFAULT_MODEL}'" in log and "--model tiny" in log
    finally:
        app.stop()


def test_sigterm_closes_the_server_and_removes_its_temporary_files(tmp_path, drawing_path):
    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    app = start_app(tmp_path, env={"TMPDIR": str(server_tmp)})
    try:
        client = Client(app.url, verbose=False, download_files=str(tmp_path / "downloads"))
        client.predict(handle_file(drawing_path), module="canny", processor_res=64, api_name="/preprocess")
        assert list(server_tmp.glob("studio-api-*/*/*.png")), "the API writes its images under the server's TMPDIR"
    finally:
        app.stop()  # SIGTERM, as docker stop and systemd send
    assert app.process.returncode == 0, app.log()[-2000:]
    assert not list(server_tmp.glob("studio-api-*"))


def test_fallback_state_tells_the_user_why():
    def factory(model: str):
        if model != "tiny":
            raise ModelLoadError(missing_model_message(model, "offline"))
        return SimpleNamespace(base=SimpleNamespace(architecture=SD15))  # all the state reads of an engine

    engine = LazyEngine(DEFAULT_MODEL, factory, fallback="tiny")
    engine.start().join(timeout=30)
    assert engine.state.model == "tiny" and engine.state.phase == "ready"
    text = banner_text(engine)
    assert "untrained tiny model instead" in text and DEFAULT_MODEL in text and "hf download" in text


def test_explicit_model_failure_is_reported_not_replaced():
    def factory(model: str):
        raise ModelLoadError(missing_model_message(model))

    engine = LazyEngine("someone/missing-model", factory)
    engine.start().join(timeout=30)
    assert engine.state.phase == "failed"
    assert "someone/missing-model" in banner_text(engine) and "tiny" in banner_text(engine)


def test_command_line_contract():
    args = parse_args(["--model", "tiny", "--device", "cpu", "--host", "127.0.0.1", "--port", "7000", "--share",
                       "--auth", "a:b:c", "--outputs", "out", "--offline"])
    assert (args.model, args.device, args.port, args.share, args.offline) == ("tiny", "cpu", 7000, True, True)
    assert parse_auth(args.auth) == [("a", "b:c")]
    check = make_auth_check([("artist", "s3cret")])
    assert check("artist", "s3cret") and not check("artist", "s3cre") and not check("Artist", "s3cret")
    assert exposure_warning("0.0.0.0", False, False) and exposure_warning("127.0.0.1", True, False)
    assert exposure_warning("127.0.0.1", False, False) is None and exposure_warning("0.0.0.0", True, True) is None
    assert "A1111 API" in exposure_warning("0.0.0.0", False, False, api=True)
    assert "A1111 API" not in exposure_warning("0.0.0.0", False, False)
    assert exposure_warning("127.0.0.1", False, False, api=True) is None
    help_text = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    for flag in ("--model", "--device", "--host", "--port", "--share", "--auth", "--outputs", "--offline", "--cpu-offload"):
        assert flag in help_text


def test_compile_and_cpu_offload_are_refused_together(capsys):
    assert parse_args(["--cpu-offload"]).cpu_offload and parse_args(["--compile"]).compile
    with pytest.raises(SystemExit):
        parse_args(["--compile", "--cpu-offload"])
    assert "choose one" in capsys.readouterr().err


def test_auth_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("STUDIO_AUTH", "painter:pa:ss")
    assert parse_auth(None) == [("painter", "pa:ss")]
