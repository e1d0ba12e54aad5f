"""Which ControlNet serves each condition, loaded lazily and kept in a bounded LRU."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from hub import HubAccess
from pipelines.architectures import SD15, WrongArchitecture
from pipelines.loading import ModelLoadError, check_not_pickle, missing_model_message, move, names_a_path
from pipelines.union_files import file_is_union, is_union, load_union, load_union_file, read_config

log = logging.getLogger(__name__)

CONTROLNET_MODELS: Mapping[str, str] = SD15.controlnets  # SD1.5's v1.1 ControlNets, the tiny model's too


def short_name(model_id: str) -> str:
    """The name A1111 writes in infotext: the last path part without extension."""
    return Path(model_id).stem if model_id.endswith(".safetensors") else model_id.rstrip("/").split("/")[-1]


def load_controlnet(model_id: str, condition: str, device: torch.device, dtype: torch.dtype, allow_pickle: bool = False,
                    hub: HubAccess | None = None, fits: Callable[[dict], None] | None = None):
    """Hub id, diffusers folder or single .safetensors file (config taken from the condition's v1.1 repo, or xinsir's
    for a union file); a union repo or folder gives its ProMax model when it has one. `fits(config)` may refuse the
    ControlNet on its config: before its weights are read, except a lone single-condition file's (checked once read)."""
    from diffusers import ControlNetModel

    check_not_pickle(model_id, allow_pickle)
    path = Path(model_id).expanduser()
    if not path.exists() and names_a_path(model_id):
        raise ModelLoadError(f"No ControlNet file or folder at {model_id}; check the path.")
    # a folder or hub repo holding only a pickled .bin is refused unless the operator allowed pickle
    hub = hub or HubAccess()
    fits = fits or (lambda config: None)
    local_only = not path.exists() and hub.local_only()  # a local file or folder never asks the hub
    safe_only = {"use_safetensors": None if allow_pickle else True, "torch_dtype": dtype, "local_files_only": local_only}
    try:
        if path.is_file():
            types = file_is_union(path)
            if types:
                net = load_union_file(path, types, dtype, hub.local_only(), fits)
            else:
                config = CONTROLNET_MODELS.get(condition, CONTROLNET_MODELS["canny"])
                net = ControlNetModel.from_single_file(str(path), config=config, torch_dtype=dtype,
                                                       local_files_only=hub.local_only())  # the config comes from the hub
                fits(dict(net.config))  # as read: SD1.5's repo gave the layout, the file's tensors had to fit it
        else:
            source = str(path) if path.is_dir() else model_id
            config = read_config(source, local_only)
            fits(config)
            if is_union(config):
                net = load_union(source, dtype, local_only, fits)
            elif path.is_dir():
                net = ControlNetModel.from_pretrained(source, **safe_only)
            elif dtype == torch.float16:
                try:
                    net = ControlNetModel.from_pretrained(model_id, variant="fp16", **safe_only)
                except (OSError, ValueError):
                    net = ControlNetModel.from_pretrained(model_id, **safe_only)
            else:
                net = ControlNetModel.from_pretrained(model_id, **safe_only)
    except WrongArchitecture as error:
        raise ModelLoadError(str(error)) from None
    except (OSError, ValueError) as error:
        log.warning("loading ControlNet %s failed: %s", model_id, error)
        if not allow_pickle and "safetensors" in str(error) and not path.exists():
            raise ModelLoadError(f"{model_id} has no .safetensors weights; pickle checkpoints can run code and are refused "
                                 "(the operator can allow them with --allow-pickle).") from error
        if path.exists():
            raise ModelLoadError(f"Could not read the ControlNet at {model_id}: it is damaged or not a diffusers ControlNet "
                                 "(.safetensors file or folder).") from error
        if local_only:
            raise ModelLoadError(f"The ControlNet {model_id} for {condition} is not downloaded and {hub.reason()}. "
                                 f"Fetch it with `hf download {model_id}`, or choose another ControlNet.") from error
        raise ModelLoadError(missing_model_message(model_id, f"ControlNet for {condition}")) from error
    return move(net, device, dtype).eval()


class ControlNetStore:
    """Keeps the most recently used ControlNets resident so switching condition never reloads from disk."""

    def __init__(self, loader: Callable[[str, str], torch.nn.Module], capacity: int = 7, overrides: dict[str, str] | None = None,
                 defaults: Mapping[str, str] = CONTROLNET_MODELS):
        self._loader = loader
        self.defaults = defaults  # the base model's architecture's ControlNet per condition
        self._capacity = max(1, capacity)
        self._overrides = dict(overrides or {})
        self._nets: OrderedDict[str, torch.nn.Module] = OrderedDict()
        self._lock = threading.Lock()

    def model_id(self, condition: str, model: str | None = None) -> str:
        """The user's choice for this unit, else the operator's override, else the v1.1 default."""
        if model:
            return model
        if condition in self._overrides:
            return self._overrides[condition]
        if condition not in self.defaults:
            raise ModelLoadError(f"No ControlNet is known for condition {condition!r} on this model; choose one of "
                                 f"{', '.join(self.defaults)}, or name a ControlNet for the unit.")
        return self.defaults[condition]

    def get(self, condition: str, model: str | None = None) -> tuple[str, torch.nn.Module]:
        """Return (model id, network), loading it on first use and evicting the least recently used."""
        model_id = self.model_id(condition, model)
        with self._lock:
            if model_id in self._nets:
                self._nets.move_to_end(model_id)
                return model_id, self._nets[model_id]
            net = self._loader(model_id, condition)
            self._nets[model_id] = net
            while len(self._nets) > self._capacity:
                evicted, _ = self._nets.popitem(last=False)
                log.info("evicted ControlNet %s from memory", evicted)
            return model_id, net

    def keep_only(self, model_ids: set[str]) -> int:
        """Drop every resident ControlNet not in `model_ids`; returns how many went."""
        with self._lock:
            idle = [model_id for model_id in self._nets if model_id not in model_ids]
            for model_id in idle:
                del self._nets[model_id]
            return len(idle)

    def resident(self) -> list[str]:
        with self._lock:
            return list(self._nets)

    def clear(self) -> None:
        with self._lock:
            self._nets.clear()


CONTROLNET_MB = 1445  # a v1.1 SD1.5 ControlNet's fp32 .safetensors (the fp16 variant is half)


def controlnet_needs(store: ControlNetStore, tiny: bool, condition: str, model: str | None,
                     hub: HubAccess) -> list[tuple[str, str]]:
    """What a unit's ControlNet needs before a run: nothing (resident, built in, on disk, cached), a download (which,
    how big), or why it cannot run here; read from the local cache only, nothing is fetched."""
    from huggingface_hub import try_to_load_from_cache

    try:
        model_id = store.model_id(condition, model or None)
    except ModelLoadError as error:
        return [("cannot run", str(error))]
    if model_id in store.resident() or (tiny and model_id == store.defaults.get(condition)):
        return []  # the tiny model brings its own tiny ControlNets
    if Path(model_id).expanduser().exists():
        return []
    if names_a_path(model_id):
        return [("cannot run", f"no ControlNet file or folder at {model_id}.")]
    if isinstance(try_to_load_from_cache(model_id, "config.json"), str):
        return []
    if hub.local_only():
        return [("cannot run", f"ControlNet {model_id} is not downloaded and {hub.reason()}. "
                               f"Fetch with `hf download {model_id}`.")]
    return [("download", f"ControlNet {model_id} (~{CONTROLNET_MB / 1000:.1f} GB)")]
