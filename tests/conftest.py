"""Test-wide offline setup: a private hub cache and HF_HUB_OFFLINE=1, set before any HF library imports."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Everything a test run writes to temp (the ~1.6 GB fake hub cache, gradio_client downloads, test servers' files)
# goes in one folder removed at exit: runs must not pile up on a disk (a full disk once failed CI).
_SCRATCH = Path(tempfile.mkdtemp(prefix="studio-tests-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)
(_SCRATCH / "tmp").mkdir()
os.environ["TMPDIR"] = tempfile.tempdir = str(_SCRATCH / "tmp")  # test servers inherit it
# Ray's socket paths must fit in 107 bytes, which a deep TMPDIR (CI's) overflows: its session files go in a short folder
_RAY_TMP = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
atexit.register(shutil.rmtree, _RAY_TMP, ignore_errors=True)
os.environ["RAY_TMPDIR"] = _RAY_TMP
from serving.ray_options import keep_ray_on_loopback  # noqa: E402  (imports no Ray)

keep_ray_on_loopback()  # every Ray a test starts (private or a two-node test cluster) stays on 127.0.0.1
_HUB = Path(os.environ.get("STUDIO_TEST_HUB") or _SCRATCH) / "hub"  # STUDIO_TEST_HUB: a cache kept between runs
_HUB.mkdir(parents=True, exist_ok=True)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = str(_HUB)
os.environ["HF_HOME"] = str(_HUB.parent)
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def hub_cache() -> Path:
    """The offline hub cache every test and test server reads from."""
    return _HUB


@pytest.fixture(scope="session")
def annotators_ready(hub_cache) -> Path:
    """Random-weight annotators of the real architectures, in the hub cache everything reads offline."""
    from tests.annotator_cache import build_annotator_cache

    return build_annotator_cache(hub_cache)


@pytest.fixture(scope="session")
def lcm_lora_repo(hub_cache, tmp_path_factory):
    """latent-consistency/lcm-lora-sdv1-5 as a random LoRA over the tiny UNet's attention layers."""
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from pipelines.speed import LCM_LORA, LCM_LORA_FILE
    from pipelines.tiny import build_unet
    from tests.fakehub import add_file, snapshot_dir

    unet = build_unet()
    torch.manual_seed(4)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False))
    folder = tmp_path_factory.mktemp("lcm")
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=layers, safe_serialization=True)
    add_file(hub_cache, LCM_LORA, LCM_LORA_FILE, folder / LCM_LORA_FILE)
    return snapshot_dir(hub_cache, LCM_LORA)
