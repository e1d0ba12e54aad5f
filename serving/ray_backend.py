"""The engine on Ray Serve replicas (`--ray`): the same Backend the studio uses in-process, reached through a Serve
handle. Jobs stream their steps back; a matrix fans its cells out over free replicas; Stop and a vanished caller reach
the replica's job through the cancel board. Gradio stays out of Ray: this process serves the page, replicas compute."""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import ray
from ray import serve
from ray.serve.exceptions import BackPressureError

from pipelines.cancel import CancelToken
from pipelines.denoise import GenerationError
from pipelines.engine import StepUpdate
from pipelines.lazy import EngineState
from pipelines.requests import GenerationRequest, GenerationResult
from pipelines.seeds import share_random_seed
from pipelines.streaming import CellDone, Done
from serving.backend import CellCallback, Need, ServerBusy, StepCallback
from serving.ray_options import RayOptions
from serving.replica import BOARD, NAMESPACE, CancelBoard, EngineReplica, Served

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
APP = "controlnet-studio"


class RayBackend:
    """Connects (or starts a private Ray), deploys the replicas on a thread, then serves the Backend protocol."""

    def __init__(self, options: RayOptions, model: str, engine_options: dict, offline: bool, app: str = APP):
        self.options, self.app = options, app
        self._model, self._engine_options, self._offline = model, engine_options, offline
        self._state = EngineState(model, "loading", f"Starting Ray and {options.max_replicas} replica(s) of {model}…")
        self._handle = None
        self._board = None
        self._lock = threading.Lock()
        self.served: deque[tuple[str, Served]] = deque(maxlen=256)  # (job kind, who served it), newest last

    # -- life cycle ------------------------------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Connect (or start the private Ray) on this thread, then deploy the replicas on another; returns that one.
        Ray's own processes die with the thread that started them, so the start cannot happen on a passing thread."""
        self._connect()
        thread = threading.Thread(target=self._deploy, name="ray-deploy", daemon=True)
        thread.start()
        return thread

    def _deploy(self) -> None:
        try:
            self._board = CancelBoard.options(name=BOARD, namespace=NAMESPACE, get_if_exists=True, lifetime=None).remote()
            threads = self.options.replica_cpus
            deployment = serve.deployment(EngineReplica, name="engine").options(**self.options.deployment_options())
            app = deployment.bind(self._model, self._engine_options, self._offline, threads)
            handle = serve.run(app, name=self.app, route_prefix=None)
            with self._lock:
                self._handle = handle
            architecture = self._call("status", timeout_s=120).get("architecture", "sd15")  # read from the model
            with self._lock:
                self._state = EngineState(self._model, "ready", "", architecture)
            log.info("engine settled: %s ready on Ray Serve", self._model)
        except Exception as error:  # the page still serves and says what went wrong
            log.exception("starting Ray Serve failed")
            with self._lock:
                self._state = EngineState(self._model, "failed", f"Could not start the Ray Serve replicas: {error}")
            log.info("engine settled: %s failed", self._model)

    def _connect(self) -> None:
        env = {"PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
        if ray.is_initialized():  # a script (or bench) that started Ray itself
            pass
        elif self.options.address == "local":  # everything on loopback: Ray's ports run code for anyone who reaches them
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1", namespace=NAMESPACE,
                     runtime_env={"env_vars": env}, log_to_driver=False)
            if not ipaddress.ip_address(ray.util.get_node_ip_address()).is_loopback:
                ray.shutdown()
                raise RuntimeError("--ray local would listen beyond 127.0.0.1: call "
                                   "serving.ray_options.keep_ray_on_loopback() before Ray is imported.")
        else:
            ray.init(address=self.options.address, namespace=NAMESPACE, runtime_env={"env_vars": env}, log_to_driver=False)
        serve.start(http_options={"host": "127.0.0.1"}, proxy_location="Disabled")

    def shutdown(self) -> None:
        """A private Ray (`local`) stops with its replicas; on a shared cluster only this app's replicas are removed.
        Bounded: systemd and `timeout` signal the whole process group, so Ray's own processes may already be gone and
        a Serve call would wait for them forever."""
        if not ray.is_initialized():
            return
        # Serve's long-poll client keeps calling actors on its own loop; after ray.shutdown() such a call auto-started
        # a fresh local Ray ("Started a local Ray instance") whose agents outlived the app (seen in CI). Ray reads
        # RAY_ENABLE_AUTO_CONNECT once, at import, into this flag.
        from ray._private import auto_init_hook

        auto_init_hook.enable_auto_connect = False
        try:
            if self.options.address != "local":
                remover = threading.Thread(target=serve.delete, args=(self.app,), daemon=True)
                remover.start()
                remover.join(timeout=30)
        finally:
            ray.shutdown()  # the processes a private Ray started end here, and its workers with its raylet

    @property
    def state(self) -> EngineState:
        with self._lock:
            return self._state

    @property
    def jobs_at_once(self) -> int:
        return self.options.max_replicas  # Serve routes each to a free replica (max_ongoing_requests=1)

    @property
    def offline(self) -> bool:
        return self._offline

    @property
    def offline_reason(self) -> str:
        return "this server is offline"

    def _ready_handle(self):
        with self._lock:
            if self._handle is None:
                from pipelines.lazy import EngineUnavailable

                raise EngineUnavailable(self._state.message or "The replicas are still starting; try again in a moment.")
            return self._handle

    # -- jobs ------------------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, on_step: StepCallback | None = None, cancel: CancelToken | None = None,
                 save: bool = True) -> GenerationResult:
        return self._job("generate", request, on_step, cancel, save)

    def matrix(self, cells: list[GenerationRequest], on_step: StepCallback | None = None, cancel: CancelToken | None = None,
               save: bool = True, on_cell: CellCallback | None = None) -> list[GenerationResult]:
        """Cells split across the replicas (each chunk one job), results assembled as they return."""
        cells = share_random_seed(cells)  # before the split: every chunk must get the same seed
        size = max(1, math.ceil(len(cells) / self.options.max_replicas))
        chunks = [list(range(start, min(start + size, len(cells)))) for start in range(0, len(cells), size)]
        results: list[GenerationResult | None] = [None] * len(cells)
        errors: list[BaseException] = []
        cancel = cancel or CancelToken()

        def run(indexes: list[int]) -> None:
            try:
                def cell_done(number: int, result: GenerationResult) -> None:
                    results[indexes[number]] = result
                    if on_cell is not None:
                        on_cell(indexes[number], result)

                for number, result in enumerate(self._job("matrix", [cells[i] for i in indexes], on_step, cancel, save,
                                                          cell_done)):
                    results[indexes[number]] = result
            except BaseException as error:  # handed to the caller's thread; the other chunks are stopped
                errors.append(error)
                cancel.cancel()

        workers = [threading.Thread(target=run, args=(chunk,), daemon=True) for chunk in chunks]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if errors:
            raise errors[0]
        return results  # type: ignore[return-value]

    def _job(self, kind: str, payload: object, on_step: StepCallback | None, cancel: CancelToken | None, save: bool,
             on_cell: Callable[[int, GenerationResult], None] | None = None):
        """One job on a free replica; if that replica dies mid-job (killed, out of memory, its node gone) the job runs
        once more on another one while Serve replaces it, and a second death is a sentence, never a hang."""
        for attempt in (1, 2):
            try:
                return self._attempt(kind, payload, on_step, cancel, save, on_cell)
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as error:
                log.warning("a replica died during a %s job (attempt %d): %s", kind, attempt, type(error).__name__)
                if cancel is not None and cancel.cancelled:
                    raise cancel.stopped() from None
        raise GenerationError("The replica running this job stopped twice (its process died); the server is replacing "
                              "it. Run the job again in a minute.")

    def _attempt(self, kind: str, payload: object, on_step: StepCallback | None, cancel: CancelToken | None, save: bool,
                 on_cell: Callable[[int, GenerationResult], None] | None):
        job_id = uuid.uuid4().hex
        stream = self._ready_handle().options(stream=True).run.remote(kind, payload, job_id, save)
        finished = threading.Event()
        if cancel is not None:
            threading.Thread(target=self._forward_cancel, args=(cancel, job_id, finished), daemon=True).start()
        try:
            with _replica_errors():
                for item in stream:
                    if isinstance(item, Done):
                        return item.value
                    if isinstance(item, CellDone):
                        if on_cell is not None:
                            on_cell(item.index, item.result)
                    elif isinstance(item, StepUpdate) and on_step is not None:
                        on_step(item)
                    elif isinstance(item, Served):
                        self.served.append((kind, item))
                        log.info("job %s (%s) served by replica %s on node %s", job_id[:8], kind, item.replica,
                                 item.node_id[:12])
                raise RuntimeError("the replica ended the job without a result")
        finally:
            finished.set()

    def _forward_cancel(self, cancel: CancelToken, job_id: str, finished: threading.Event) -> None:
        """Stop (or the job's time limit) on this side reaches the replica's job through the board."""
        while not finished.wait(0.1):
            if cancel.cancelled:
                self._board.cancel.remote(job_id)
                return

    # -- small calls -----------------------------------------------------------------------------------
    def _call(self, method: str, *args: object, timeout_s: float | None = None) -> object:
        with _replica_errors():
            return self._ready_handle().call.remote(method, *args).result(timeout_s=timeout_s)

    def preprocess(self, module, image, processor_res=512, threshold_a=None, threshold_b=None):
        return self._call("preprocess", module, image, processor_res, threshold_a, threshold_b)

    def poses(self, module, image, processor_res=512):
        return self._call("poses", module, image, processor_res)

    def weights_state(self, module: str):
        return self._call("weights_state", module)

    def preprocessor_states(self):
        return self._call("preprocessor_states")

    def load_controlnet(self, condition: str, model: str | None) -> None:
        self._call("load_controlnet", condition, model)

    def controlnet_needs(self, condition: str, model: str | None) -> list[Need]:
        if self.state.phase != "ready":
            return [("later", "")]
        return self._call("controlnet_needs", condition, model)

    def status(self) -> dict[str, object]:
        """One replica's view (a free one answers) plus every replica with its state."""
        if self.state.phase != "ready":
            return {}
        try:
            info = self._call("status", timeout_s=5)
        except (TimeoutError, ray.exceptions.GetTimeoutError):
            info = {"note": "every replica is busy"}
        return {**info, "replicas": self.replicas()}

    def replicas(self) -> list[dict[str, object]]:
        """Each replica's state, node and process from Serve's controller (the view Serve's dashboard shows;
        `serve.status()` only counts replicas per state), and how many of the recent jobs it served."""
        details = serve.context._get_global_client().get_serve_details()
        deployment = details["applications"][self.app]["deployments"]["engine"]
        jobs = Counter(served.replica for _, served in self.served)
        return [{"replica": replica["replica_id"], "state": replica["state"], "node": replica.get("node_id") or "",
                 "pid": replica.get("pid"), "jobs": jobs[replica["replica_id"]]} for replica in deployment["replicas"]]

    def unload(self) -> None:
        self._call("unload")

    def switch(self, model: str) -> None:
        raise RuntimeError("Switching the model is not available with --ray; restart the app with --model.")


@contextmanager
def _replica_errors() -> Iterator[None]:
    """A replica's exception arrives as itself (its sentence), not wrapped in Ray's traceback; a full queue is 'busy'."""
    try:
        yield
    except ray.exceptions.RayTaskError as error:
        cause = getattr(error, "cause", None)
        raise (cause if isinstance(cause, BaseException) else error) from None
    except BackPressureError:
        raise ServerBusy("Every replica is busy and the queue is full; try again in a minute.") from None
