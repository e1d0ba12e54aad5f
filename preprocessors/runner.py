"""Run preprocessors: weights loaded lazily once per process (thread-safe), from the local cache only when the hub
cannot be used."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from hub import HubAccess
from preprocessors.cache import MapCache, map_key
from preprocessors.detectors import ADAPTERS
from preprocessors.normalise import normalise_image, short_side_size
from preprocessors.poses import detect_pose_json
from preprocessors.registry import (
    POSE_DETECTORS,
    SPECS,
    PreprocessorError,
    PreprocessorSpec,
    WeightSpec,
    get_spec,
    resolve_thresholds,
)

log = logging.getLogger(__name__)
MIN_RES, MAX_RES = 64, 2048
RESIZE_MODES = ("Just Resize", "Crop and Resize", "Resize and Fill")


@dataclass(frozen=True)
class PreprocessorStatus:
    """What the Models tab shows for one preprocessor."""

    name: str
    family: str
    state: str  # "ready" | "no weights needed" | "not loaded" | "missing"
    repo: str = ""
    files: tuple[str, ...] = ()
    command: str = ""


def locate_weights(weights: WeightSpec, hub: HubAccess) -> Path:
    """Resolve every file to the local cache (downloading only when the hub answers) and return their folder.

    controlnet-aux does not always pass local_files_only through (diffusers #7453), so we resolve the
    files ourselves and hand the detectors a local folder: they never see a hub id.
    """
    from huggingface_hub import hf_hub_download

    folder = None
    local_only = hub.local_only()
    for filename in weights.filenames:
        try:
            path = Path(hf_hub_download(weights.repo, filename, local_files_only=local_only))
        except Exception as error:  # LocalEntryNotFoundError, connection errors, gated repos, ...
            why = f"are not downloaded and {hub.reason()}" if local_only else f"could not be downloaded ({type(error).__name__})"
            raise PreprocessorError(f"The weights {weights.repo}/{filename} {why}; fetch them with "
                                    f"`{weights.fetch_command()}`.") from error
        folder = path.parent
    assert folder is not None
    return folder


class Preprocessors:
    """One per process (app.py builds it): detectors shared by all callers, plus the map cache."""

    def __init__(self, device: str = "cpu", offline: bool | None = None, hub: HubAccess | None = None,
                 cache_entries: int = 64, cache_bytes: int = 256 * 2**20,
                 max_map_pixels: int = MAX_RES * MAX_RES, max_map_aspect: float = 16.0):
        self.device = device
        self.max_map_pixels = max_map_pixels
        self.max_map_aspect = max_map_aspect
        self.hub = hub or HubAccess(offline)
        self.cache = MapCache(cache_entries, cache_bytes)
        self._detectors: dict[str, object] = {}
        self._locks: dict[str, threading.Lock] = {spec.detector: threading.Lock() for spec in SPECS}
        self._run_locks: dict[str, threading.Lock] = {spec.detector: threading.Lock() for spec in SPECS}

    @property
    def offline(self) -> bool:
        """Missing weights cannot be downloaded now (offline by choice, or the hub does not answer)."""
        return self.hub.local_only()

    def load(self, name: str) -> None:
        """Load a preprocessor's detector now (e.g. at start-up) instead of on its first run."""
        self._detector(get_spec(name))

    def _detector(self, spec: PreprocessorSpec) -> object:
        key = spec.detector
        if key in self._detectors:
            return self._detectors[key]
        with self._locks[key]:  # two callers asking at once load once
            if key not in self._detectors:
                folder = locate_weights(spec.weights, self.hub) if spec.weights else None
                log.info("loading preprocessor %s from %s", spec.name, folder or "(no weights)")
                try:
                    self._detectors[key] = ADAPTERS[key].load(folder, self.device)
                except Exception as error:  # a truncated download, a file of another format: say which, and the fix
                    if spec.weights is None:
                        raise
                    log.warning("loading preprocessor %s failed: %r", spec.name, error)
                    raise PreprocessorError(
                        f"The weights of {spec.name} in {folder} could not be read; they may be damaged (a download cut "
                        f"short, or an error page saved in their place): fetch them again with "
                        f"`{spec.weights.fetch_command()} --force-download`.") from error
            return self._detectors[key]

    def run(self, name: str, image: Image.Image, processor_res: int = 512,
            threshold_a: float | None = None, threshold_b: float | None = None) -> Image.Image:
        """The map as RGB, its short side equal to processor_res and the input's aspect ratio kept; `none` gives the
        upload itself, as A1111 does (a ready map resampled to 512 and back would not be the map the artist made)."""
        spec = get_spec(name)
        processor_res = _resolution(processor_res)
        a, b = resolve_thresholds(spec, threshold_a, threshold_b)
        check_map_size(image.size, processor_res, self.max_map_pixels, self.max_map_aspect)
        picture = normalise_image(image)
        if spec.detector == "none":
            return picture
        key = map_key(picture, name, processor_res, a, b)
        cached = self.cache.get(key)
        if cached is not None:
            return cached.copy()
        detector = self._detector(spec)
        options = dict(spec.options)
        with self._run_locks[spec.detector]:  # torch modules are not re-entrant across threads on one device
            result = ADAPTERS[spec.detector].run(detector, picture, processor_res, a, b, **options)
        result = _fit(result.convert("RGB"), picture.size, processor_res)
        self.cache.put(key, result)
        return result.copy()

    def poses(self, name: str, image: Image.Image, processor_res: int = 512) -> dict | None:
        """OpenPose JSON of the people an OpenPose module finds (None for other modules); same checks as `run`."""
        spec = get_spec(name)
        if spec.detector not in POSE_DETECTORS:
            return None
        processor_res = _resolution(processor_res)
        check_map_size(image.size, processor_res, self.max_map_pixels, self.max_map_aspect)
        detector = self._detector(spec)
        with self._run_locks[spec.detector]:
            return detect_pose_json(detector, normalise_image(image), processor_res, **dict(spec.options))

    def status(self) -> list[PreprocessorStatus]:
        """Every preprocessor: ready, no weights needed, not loaded yet, or missing (with the fetch command)."""
        return [self.weights_state(spec.name) for spec in SPECS]

    def weights_state(self, name: str) -> PreprocessorStatus:
        """One preprocessor's weights: whether it can run now, or which files it still needs."""
        from huggingface_hub import try_to_load_from_cache

        spec = get_spec(name)
        if spec.weights is None:
            return PreprocessorStatus(spec.name, spec.family, "no weights needed")
        if spec.detector in self._detectors:
            return PreprocessorStatus(spec.name, spec.family, "ready", spec.weights.repo, spec.weights.filenames)
        missing = tuple(f for f in spec.weights.filenames if not isinstance(try_to_load_from_cache(spec.weights.repo, f), str))
        if missing:
            return PreprocessorStatus(spec.name, spec.family, "missing", spec.weights.repo, missing,
                                      spec.weights.fetch_command(missing))
        return PreprocessorStatus(spec.name, spec.family, "not loaded", spec.weights.repo, spec.weights.filenames)

    def warm_up(self, skip: bool = False) -> threading.Thread:
        """Import controlnet-aux (about 10 s, once) on a thread, so the first preview does not wait for it."""
        def load() -> None:
            if skip:
                log.info("preprocessors settled: warm-up skipped, controlnet-aux loads on first use")
                return
            import controlnet_aux  # noqa: F401

            log.info("preprocessors settled: controlnet-aux imported")

        thread = threading.Thread(target=load, name="preprocessor-warm-up", daemon=True)
        thread.start()
        return thread

    def unload(self) -> None:
        """Drop every loaded detector (weights reload on next use)."""
        for key, lock in self._locks.items():
            with lock, self._run_locks[key]:  # never pull a detector out from under a load or a run
                self._detectors.pop(key, None)


def check_map_size(size: tuple[int, int], processor_res: int, max_pixels: int, max_aspect: float) -> None:
    """Refuse, before any work, a map that would be huge: the map's short side is processor_res, so a thin strip
    (8192x8 at 2048 made a 2097152x2048 map and killed the server) grows with its aspect ratio."""
    width, height = size
    aspect = max(width, height) / max(1, min(width, height))
    if aspect > max_aspect:
        raise PreprocessorError(f"The control image is {width}x{height} pixels, more than {max_aspect:g}:1; crop it closer to "
                                "the output's shape before using it.")
    map_width, map_height = short_side_size(size, processor_res)
    if map_width * map_height > max_pixels:
        fits = int((max_pixels / aspect) ** 0.5) // 8 * 8
        raise PreprocessorError(f"At processor_res {processor_res} the {width}x{height} image's map would be {map_width}x{map_height} "
                                f"pixels, over this server's {max_pixels / 1e6:.1f} megapixels; lower processor_res to {fits} or less.")


def _fit(result: Image.Image, source_size: tuple[int, int], processor_res: int) -> Image.Image:
    """Detectors round sizes to multiples of 8/16/64 their own way; the map we return has one size rule."""
    size = short_side_size(source_size, processor_res)
    return result if result.size == size else result.resize(size, Image.Resampling.BILINEAR)


def pixel_perfect_resolution(image_size: tuple[int, int], target_width: int, target_height: int, resize_mode: str) -> int:
    """A1111's pixel perfect: the preprocessor resolution at which the map lands 1:1 on the output pixels."""
    if resize_mode not in RESIZE_MODES:
        raise PreprocessorError(f"resize_mode must be one of {', '.join(RESIZE_MODES)}, got {resize_mode!r}.")
    width, height = image_size
    if min(width, height, target_width, target_height) <= 0:
        raise PreprocessorError(f"Image size {image_size} and target size {target_width}x{target_height} must be positive.")
    k_height, k_width = target_height / height, target_width / width
    # "Resize and Fill" fits the whole image inside (smaller factor); the others cover the target (larger factor).
    scale = min(k_height, k_width) if resize_mode == "Resize and Fill" else max(k_height, k_width)
    return int(min(MAX_RES, max(MIN_RES, round(scale * min(width, height)))))


def _resolution(processor_res: object) -> int:
    """A whole number in range (sliders and JSON send 512.0), or a sentence."""
    if isinstance(processor_res, float) and processor_res.is_integer():
        processor_res = int(processor_res)
    if isinstance(processor_res, bool) or not isinstance(processor_res, int) or not MIN_RES <= processor_res <= MAX_RES:
        raise PreprocessorError(f"processor_res must be a whole number between {MIN_RES} and {MAX_RES}, got {processor_res!r}.")
    return processor_res
