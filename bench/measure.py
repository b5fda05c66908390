"""Step timing, peak memory and FLOP counting for the throughput benchmark."""

import statistics
import time
import weakref
from typing import Callable, Dict, List, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PeakTensorMemory(TorchDispatchMode):
    """Peak bytes of the tensors created while active and still alive (activations, saved
    tensors, gradients, new optimizer state): a CPU stand-in for CUDA's allocator peak.

    A storage counts once however many views of it exist, and stops counting when the
    last tensor referring to it is freed. Scratch memory inside a kernel is not seen.
    """

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._refs: Dict[int, List[int]] = {}  # storage pointer -> [bytes, tensors]

    def _release(self, ptr: int) -> None:
        entry = self._refs.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.live -= entry[0]
            del self._refs[ptr]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr == 0:
                continue
            entry = self._refs.get(ptr)
            if entry is None:
                entry = self._refs[ptr] = [storage.nbytes(), 0]
                self.live += entry[0]
                self.peak = max(self.peak, self.live)
            entry[1] += 1
            weakref.finalize(t, self._release, ptr)
        return out


def count_flops(step: Callable[[], float]) -> float:
    """FLOPs torch dispatches in one call of ``step`` (matmuls and convolutions)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


def time_interleaved(steps: Dict[str, Callable[[], float]], device: torch.device, warmup: int,
                     repeats: int) -> Dict[str, List[float]]:
    """Wall times of each step, taken round-robin so that drifts (clock, allocator, other
    load) hit every variant alike; ``warmup`` unmeasured rounds first."""
    times: Dict[str, List[float]] = {name: [] for name in steps}
    for round_ in range(warmup + repeats):
        for name, step in steps.items():
            _sync(device)
            start = time.perf_counter()
            step()
            _sync(device)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def peak_memory_mb(step: Callable[[], float], device: torch.device) -> float:
    """Memory one extra step needs above the resting state (model, optimizer state)."""
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    with PeakTensorMemory() as tracker:
        step()
    return tracker.peak / 2**20


def summarise(times: List[float]) -> Tuple[float, float]:
    """(median, max - min) of step times in seconds."""
    return statistics.median(times), max(times) - min(times)


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int = 8192, repeats: int = 20) -> float:
    """Measured dense matmul FLOP/s of the device (the MFU denominator)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start)
