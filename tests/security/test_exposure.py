"""What the server exposes: files, credentials, warnings, telemetry, monitoring and model paths."""

from __future__ import annotations

import hmac
import io
import subprocess
import sys

import httpx
import pytest
from gradio_client import Client
from PIL import Image

import app as app_module
from app import AUTH_ENV, exposure_warning, make_auth_check, parse_auth
from tests.security.conftest import PASSWORD, USER
from tests.security.helpers import HTTP_TIMEOUT_S, error_text, raw_get
from tests.server import ROOT

pytestmark = pytest.mark.server



def _get(url: str, **kwargs) -> httpx.Response:
    response = httpx.get(url, timeout=HTTP_TIMEOUT_S, follow_redirects=False, **kwargs)
    assert "Traceback" not in response.text
    return response


TRAVERSALS = [  # sent byte for byte, as an attacker would
    "/etc/passwd", "../../../../etc/passwd", "..%2f..%2f..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2fetc%2fpasswd", "....//....//etc/passwd", "/proc/self/environ", str(ROOT / "app.py"), "app.py", "./app.py",
    str(ROOT / ".env"), ".env", "studio/service.py", str(ROOT / "pipelines" / "engine.py"),
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_file_route_refuses_anything_the_app_did_not_produce(served, path):
    """Hazard: path traversal / source and secret disclosure via /gradio_api/file= (/etc/passwd, ../ and %2e%2e%2f
    variants, the app's own source, .env)."""
    status, body = raw_get(served.url, "/gradio_api/file=" + path)
    assert status in (403, 404), f"{path} answered {status}"
    assert "root:" not in body and "import" not in body and "Traceback" not in body


def test_file_route_serves_what_the_app_produced(served, client, small_job):
    """Hazard (the other side): the results the app returned remain downloadable."""
    images, used_map, _ = client.predict(**small_job, api_name="/generate")
    for path in (images[0], used_map):
        assert Image.open(path).size == (64, 64)


def test_monitoring_dashboard_is_not_exposed(served):
    """Hazard: gradio's /monitoring dashboard leaking request data."""
    for path in ("monitoring", "gradio_api/monitoring", "monitoring/summary"):
        assert _get(served.url + path).status_code in (401, 403, 404)


def test_analytics_are_off(served):
    """Hazard: telemetry calling home from an offline studio."""
    config = _get(served.url + "config").json()
    assert config["analytics_enabled"] is False
    assert 'os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")' in (ROOT / "app.py").read_text()


@pytest.mark.parametrize("path", ["config", "gradio_api/info", "gradio_api/queue/status", "gradio_api/file=/etc/passwd"])
def test_auth_refuses_api_and_file_routes_without_credentials(locked, path):
    """Hazard: an exposed server used by strangers. With --auth (here via STUDIO_AUTH), API and file routes refuse
    callers without a login."""
    assert _get(locked.url + path).status_code in (401, 403)


def test_auth_refuses_unauthenticated_calls_and_uploads(locked, control_path):
    """Hazard: bypassing the login page by calling endpoints or uploading directly."""
    posted = httpx.post(locked.url + "gradio_api/call/generate", json={"data": ["x"]}, timeout=HTTP_TIMEOUT_S)
    assert posted.status_code in (401, 403) and "Traceback" not in posted.text
    with open(control_path, "rb") as handle:
        uploaded = httpx.post(locked.url + "gradio_api/upload", files={"files": ("c.png", handle)}, timeout=HTTP_TIMEOUT_S)
    assert uploaded.status_code in (401, 403)
    with pytest.raises(ValueError, match="credentials were not provided"):
        Client(locked.url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(locked.url, auth=(USER, "wrong"), verbose=False)


def test_auth_lets_the_right_credentials_in_and_results_stay_behind_it(locked, small_job):
    """Hazard: results downloadable by strangers. STUDIO_AUTH credentials (password with colons) work end to end,
    and the URL of a result refuses a caller without the login cookie."""
    client = Client(locked.url, auth=(USER, PASSWORD), verbose=False, download_files=False)
    images, _, _ = client.predict(**{**small_job, "seed": 3}, api_name="/generate")
    result_url = images[0]["url"]
    with httpx.Client(cookies=dict(client.cookies), timeout=HTTP_TIMEOUT_S) as logged_in:
        with_login = logged_in.get(result_url)
    assert with_login.status_code == 200 and Image.open(io.BytesIO(with_login.content)).size == (64, 64)
    assert _get(result_url).status_code in (401, 403)


def test_root_path_for_a_reverse_proxy(proxied):
    """Hazard: a proxied app generating links that bypass the proxy (and its TLS/auth). GRADIO_ROOT_PATH, as
    SECURITY.md documents, makes every generated URL start with the proxy's public path."""
    config = _get(proxied.url + "config").json()
    assert config["root"].rstrip("/").endswith("/studio")


def test_password_is_compared_in_constant_time(monkeypatch):
    """Hazard: timing side channel on the login. Both fields always go through hmac.compare_digest (no early exit
    on a wrong user name, no `==`)."""
    compared, real = [], hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", spy)
    check = make_auth_check([(USER, PASSWORD)])
    assert check(USER, PASSWORD)
    assert not check("intruder", PASSWORD) and not check(USER, "s3cret") and not check("", "")
    assert len(compared) == 8, "user and password must both be compared on every attempt"
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in compared)


def test_auth_from_the_environment_and_malformed_values(monkeypatch):
    """Hazard: passwords in shell history; half-configured auth silently disabling the login."""
    monkeypatch.setenv(AUTH_ENV, f"{USER}:{PASSWORD}")
    assert parse_auth(None) == [(USER, PASSWORD)]
    for bad in ("nopassword", ":pw", "user:"):
        with pytest.raises(SystemExit):
            parse_auth(bad)


def test_exposing_without_auth_warns():
    """Hazard: a public --share link or a non-loopback --host with no login. The warning names the fix."""
    for host, share in (("0.0.0.0", False), ("192.168.1.5", False), ("127.0.0.1", True), ("::", False)):
        warning = exposure_warning(host, share, has_auth=False)
        assert warning and "WARNING" in warning and "--auth" in warning and AUTH_ENV in warning
    for host in ("127.0.0.1", "localhost", "::1"):
        assert exposure_warning(host, False, has_auth=False) is None
    assert exposure_warning("0.0.0.0", True, has_auth=True) is None
    help_text = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                               timeout=60).stdout
    assert AUTH_ENV in help_text and "this machine only" in help_text and "use --auth" in help_text
    assert "they can run code" in help_text  # --allow-pickle says what it risks


OUTSIDE = ["../../etc/passwd", "/etc/passwd", "lllyasviel/../../etc", "~/.ssh/id_rsa", "/tmp/../etc/shadow"]


@pytest.mark.parametrize("model", OUTSIDE)
def test_user_model_paths_outside_the_allowed_folders_are_refused(client, small_job, model):
    """Hazard: arbitrary file read/load via /generate's `model=` (../, absolute paths, hub-id lookalikes)."""
    with pytest.raises(Exception) as caught:
        client.predict(**{**small_job, "model": model}, api_name="/generate")
    assert "outside the model folders" in error_text(caught.value)


def test_symlink_out_of_the_model_folder_is_refused(client, small_job, models_dir):
    """Hazard: a link inside an allowed folder pointing outside it."""
    with pytest.raises(Exception) as caught:
        client.predict(**{**small_job, "model": str(models_dir / "escape.safetensors")}, api_name="/generate")
    assert "outside the model folders" in error_text(caught.value)


def test_pickle_checkpoint_on_the_command_line_is_refused(pickled_model, marker, small_job):
    """Hazard: remote code execution from a pickled --model. `--model x.ckpt` is refused without loading it: the app
    still serves and every call says why; the payload never runs."""
    client = Client(pickled_model.url, verbose=False)
    with pytest.raises(Exception) as caught:
        client.predict(**small_job, api_name="/generate")
    message = error_text(caught.value)
    assert "pickle checkpoint" in message and "--allow-pickle" in message
    assert not marker.exists()
    assert "pickle checkpoint" in pickled_model.log()  # the operator sees why in the log too
