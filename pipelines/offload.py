"""Model CPU offload for small GPUs: every part waits in CPU RAM and visits the GPU only while it runs."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from pipelines.loading import BaseModel

CPU = torch.device("cpu")


class ModelOffload:
    """accelerate's offload hooks in diffusers' `enable_model_cpu_offload` order: text encoder -> UNet -> VAE.

    ControlNets get their own hooks (they alternate with the UNet every step, so chaining them would move
    weights across the bus twice per step); `release()` sends everything back to CPU at the end of each job.
    """

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self._base: BaseModel | None = None
        self._nets: weakref.WeakSet[torch.nn.Module] = weakref.WeakSet()  # evicted ControlNets are freed, not kept

    def attach_base(self, base: BaseModel) -> None:
        """Hook the three base parts in the order a job uses them, so each one pushes out the one before."""
        from accelerate import cpu_offload_with_hook

        self._base = base
        previous = None
        for part in base.parts():
            _, previous = cpu_offload_with_hook(part, self.device, prev_module_hook=previous)

    def attach(self, net: torch.nn.Module) -> torch.nn.Module:
        """A ControlNet: moved to the GPU on its first step, stays there for the job, leaves at `release()`."""
        from accelerate import cpu_offload_with_hook

        cpu_offload_with_hook(net, self.device)
        self._nets.add(net)
        return net

    def modules(self) -> list[torch.nn.Module]:
        base = [] if self._base is None else list(self._base.parts())
        return base + list(self._nets)

    def release(self) -> None:
        """End of a job: nothing stays on the GPU between jobs."""
        for module in self.modules():
            if next(module.parameters()).device != CPU:
                module.to(CPU)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Take the base hooks off while diffusers edits the UNet (LoRA loading), then put them back."""
        from accelerate.hooks import remove_hook_from_module

        base = self._base
        if base is None:
            yield
            return
        for part in base.parts():
            remove_hook_from_module(part)
        try:
            yield
        finally:
            self.attach_base(base)


def is_offloaded(module: torch.nn.Module) -> bool:
    """True when accelerate's offload hook is attached: the way to see from outside that a module is offloaded."""
    from accelerate.hooks import CpuOffload, SequentialHook

    hook = getattr(module, "_hf_hook", None)
    hooks = hook.hooks if isinstance(hook, SequentialHook) else [hook]
    return any(isinstance(h, CpuOffload) for h in hooks)
