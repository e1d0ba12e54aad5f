"""ControlNet Studio: parse the command line, build the one engine, build the UI, launch. Nothing else."""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import logging
import os
import signal
import sys
from pathlib import Path

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
AUTH_ENV = "STUDIO_AUTH"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Compare Stable Diffusion ControlNet conditions side by side.")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="hub id, local diffusers folder, single .safetensors file (SD1.5 or SDXL, read from the model), "
                        "or a built-in untrained one: 'tiny' (SD1.5) or 'tiny-sdxl'")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (use --auth!)")
    parser.add_argument("--auth", action="append", default=[],
                        help=f"user:password, repeatable (or set {AUTH_ENV}, one login a line, to keep it out of shell history)")
    parser.add_argument("--admin", action="append", default=[], metavar="USER",
                        help="a login that may switch the model and unload (repeatable); on a shared server nobody else can")
    parser.add_argument("--max-jobs-per-visitor", type=int, default=2,
                        help="jobs one visitor (login, else browser session) may have waiting or running at once")
    parser.add_argument("--outputs", default="outputs", help="folder for generated PNGs ('' to keep nothing on disk)")
    parser.add_argument("--offline", action="store_true", help="never contact the Hugging Face hub (sets HF_HUB_OFFLINE=1)")
    parser.add_argument("--allow-pickle", action="store_true", help="allow .ckpt/.bin/.pt checkpoints (they can run code)")
    parser.add_argument("--controlnet", action="append", default=[], metavar="CONDITION=MODEL",
                        help="use another ControlNet for a condition, e.g. canny=./models/my_canny.safetensors")
    parser.add_argument("--models-dir", action="append", default=[], help="folder users may pick ControlNet files from (repeatable)")
    parser.add_argument("--allow-hub-models", action="store_true",
                        help="let users name any hub repo as a unit's ControlNet (the server downloads it); off: only known ones")
    parser.add_argument("--controlnet-cache", type=int, default=7, help="ControlNets kept in memory at once")
    parser.add_argument("--queue-size", type=int, default=16, help="jobs that may wait; more get a 'busy' message")
    parser.add_argument("--max-file-size", default="20mb", help="largest upload accepted")
    parser.add_argument("--cache-hours", type=float, default=6.0,
                        help="uploads and returned files are deleted from the server this long after they were made")
    parser.add_argument("--preview-every", type=int, default=4, help="live preview every N steps (0 = off)")
    parser.add_argument("--no-taesd", action="store_true", help="previews without TAESD (cheap approximation only)")
    parser.add_argument("--lazy-preprocessors", action="store_true",
                        help="import the preprocessor library on first use, not at start (saves ~10 s of CPU and "
                             "~0.3 GB when nobody runs a preprocessor; the first preview then waits for it)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the UNet and ControlNets on CUDA (compiled while the model loads)")
    parser.add_argument("--vae-tiling", action="store_true", help="decode in tiles to save GPU memory")
    parser.add_argument("--cpu-offload", action="store_true",
                        help="small GPUs: keep weights in RAM, move each model to the GPU only while it runs (slower)")
    parser.add_argument("--api", action="store_true",
                        help="add AUTOMATIC1111's HTTP API (/sdapi/v1/txt2img, /controlnet/*) on the same server, login "
                             "and queue, for webuiapi, plugins and scripts")
    parser.add_argument("--ray", metavar="local|ADDRESS",
                        help="run the engine on Ray Serve replicas: 'local' starts a private Ray on this machine "
                             "(127.0.0.1 only); an address ('auto', 'ray://head:10001') joins a cluster")
    parser.add_argument("--replicas", default="1", help="with --ray: N replicas, or MIN-MAX to autoscale on queued jobs")
    parser.add_argument("--replica-cpus", type=int, metavar="C",
                        help="with --ray: CPU replicas of C cores each (torch threads = C); default: one GPU per replica")
    args = parser.parse_args(argv)
    if args.compile and args.cpu_offload:
        parser.error("--compile and --cpu-offload do not mix (compiled graphs expect weights to stay on the GPU); choose one")
    from serving.ray_options import parse_replicas

    try:
        args.replicas = parse_replicas(args.replicas)
    except ValueError as error:
        parser.error(str(error))
    return args


def parse_auth(values: list[str] | str | None) -> list[tuple[str, str]]:
    """Logins from the flags, else from the environment (one `user:password` a line); passwords may contain colons."""
    values = [values] if isinstance(values, str) else list(values or [])
    if not values and os.environ.get(AUTH_ENV):
        values = [line for line in os.environ[AUTH_ENV].splitlines() if line.strip()]
    logins = []
    for value in values:
        user, sep, password = value.partition(":")
        if not sep or not user or not password:
            sys.exit(f"--auth / {AUTH_ENV} must look like user:password")
        logins.append((user, password))
    return logins


def make_auth_check(logins: list[tuple[str, str]]):
    """Compare every login's both fields in constant time, so response timing leaks nothing about any password."""
    def check(given_user: str, given_password: str) -> bool:
        matched = False
        for user, password in logins:
            user_ok = hmac.compare_digest(given_user.encode(), user.encode())
            password_ok = hmac.compare_digest(given_password.encode(), password.encode())
            matched |= user_ok and password_ok
        return matched

    return check


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_only(host: str, share: bool, has_auth: bool) -> bool:
    """Reachable by this machine's user alone: loopback, no share link, no login and no reverse proxy path.
    A login or GRADIO_ROOT_PATH means other people arrive (through a proxy), even on 127.0.0.1."""
    return is_loopback(host) and not share and not has_auth and not os.environ.get("GRADIO_ROOT_PATH")


def exposure_warning(host: str, share: bool, has_auth: bool, api: bool = False) -> str | None:
    if has_auth or (is_loopback(host) and not share):
        return None
    where = "a public share link" if share else f"{host} (reachable from other machines)"
    scripts = " and the A1111 API (--api) lets any script run jobs" if api else ""
    return (f"WARNING: serving on {where} without --auth: anyone who finds it can use your GPU and see results"
            f"{scripts}. Set {AUTH_ENV}=user:password or pass --auth.")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logins = parse_auth(args.auth)
    unknown_admins = set(args.admin) - {user for user, _ in logins}
    if unknown_admins:
        sys.exit(f"--admin {', '.join(sorted(unknown_admins))}: not among the --auth / {AUTH_ENV} logins")
    from serving.ray_options import public_address_warning

    for warning in (exposure_warning(args.host, args.share, bool(logins), args.api), args.ray and public_address_warning(args.ray)):
        if warning:
            print(warning, file=sys.stderr, flush=True)

    from gradio.utils import get_upload_folder

    from pipelines.limits import Limits
    from studio import Studio
    from ui.access import Access
    from ui.disk import start_sweeper
    from ui.layout import CSS, build_demo

    limits = Limits.from_env()
    overrides = dict(item.split("=", 1) for item in args.controlnet)
    backend, started, stop_backend = _backend(args, limits, overrides)
    access = Access(local_only=local_only(args.host, args.share, bool(logins)), admins=frozenset(args.admin),
                    max_jobs_per_visitor=args.max_jobs_per_visitor)
    studio = Studio(backend, limits, [Path(folder).resolve() for folder in args.models_dir],
                    controlnet_overrides=overrides, any_hub_model=args.allow_hub_models, keep_copies=access.local_only)
    demo = build_demo(studio, access, queue_size=args.queue_size, cache_hours=args.cache_hours)
    warming = started()
    start_sweeper(Path(get_upload_folder()), args.cache_hours)
    # `docker stop`/systemd send SIGTERM: close like Ctrl+C does, so exit handlers remove the API's temporary files
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        app, _, _ = demo.launch(
            server_name=args.host, server_port=args.port, share=args.share,
            auth=make_auth_check(logins) if logins else None,
            max_file_size=args.max_file_size, enable_monitoring=False, ssr_mode=False, show_error=False,
            footer_links=["api"], css=CSS, prevent_thread_lock=True,
        )
        if args.api:
            from a1111_api import ApiSettings, mount_a1111_api
            from ui.concurrency import engine_jobs

            mount_a1111_api(app, studio, ApiSettings(
                check_login=make_auth_check(logins) if logins else None, local_only=access.local_only,
                admins=access.admins, queue_size=args.queue_size, ui_waiting=lambda: engine_jobs(demo)))
            print("AUTOMATIC1111-compatible API at /sdapi/v1/ and /controlnet/", flush=True)
        demo.block_thread()
    finally:
        warming.join(timeout=60)  # an exit in the middle of torch's import code aborts the process
        stop_backend()
    _exit_after_cleanup()


def _backend(args: argparse.Namespace, limits, overrides: dict[str, str]):
    """The engine in this process, or on Ray Serve replicas (--ray); returns (backend, start, stop)."""
    outputs = Path(args.outputs) if args.outputs else None
    options = dict(outputs=outputs, allow_pickle=args.allow_pickle, controlnet_overrides=overrides,
                   controlnet_cache=args.controlnet_cache, limits=limits, preview_every=args.preview_every,
                   taesd=not args.no_taesd, compile_models=args.compile, vae_tiling=args.vae_tiling,
                   cpu_offload=args.cpu_offload)
    offline = bool(args.offline or os.environ.get("HF_HUB_OFFLINE"))
    if args.ray:
        from serving.ray_options import RayOptions, keep_ray_on_loopback

        if args.ray == "local":
            keep_ray_on_loopback()
        from serving.ray_backend import RayBackend

        ray_options = RayOptions(args.ray, *args.replicas, replica_cpus=args.replica_cpus, queue_size=args.queue_size)
        device = "cpu" if args.replica_cpus else args.device
        backend = RayBackend(ray_options, args.model, {**options, "device": device}, offline)
        return backend, backend.start, backend.shutdown

    from hub import HubAccess
    from pipelines.engine import Engine
    from pipelines.lazy import LazyEngine
    from preprocessors import Preprocessors
    from serving import LocalBackend

    hub = HubAccess(args.offline)  # one answer to "can weights be downloaded now?" for the engine and the annotators
    hub.probe_in_background()

    def factory(model: str) -> Engine:
        return Engine.load(model, device=args.device, hub=hub, **options)

    # The default model falls back to `tiny` when it cannot be loaded (offline, no cache); an explicit choice does not.
    engine = LazyEngine(args.model, factory, fallback="tiny" if args.model == DEFAULT_MODEL else None)
    annotator_device = "cuda" if args.device in ("auto", "cuda") and _cuda_available() else "cpu"
    annotators = Preprocessors(device=annotator_device, hub=hub, max_map_pixels=limits.max_map_pixels,
                               max_map_aspect=limits.max_map_aspect)

    def start():
        engine.start()
        return annotators.warm_up(skip=args.lazy_preprocessors)

    return LocalBackend(engine, annotators), start, lambda: None


def _exit_after_cleanup() -> None:
    """Run the exit handlers (the API folder's removal among them), then leave without interpreter finalization:
    daemon threads parked in native code (torch, OpenCV) at that point sometimes abort the process with
    "terminate called without an active exception" (exit -6) instead of exit 0."""
    import atexit

    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
