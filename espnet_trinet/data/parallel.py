"""Parallel map over independent items (audio files) with a progress bar.

Worker processes are started with ``spawn``: forking a process that already runs threads
(tqdm's monitor, torch's pools when imported) can deadlock. A worker that dies makes the call
fail (BrokenProcessPool) instead of waiting forever.
"""

import multiprocessing
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Callable, Iterator, Sequence, TypeVar

from tqdm import tqdm

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    fn: Callable[[T], R], items: Sequence[T], nj: int = 1, desc: str = "", unit: str = "utt"
) -> Iterator[R]:
    """Yields ``fn(item)`` for every item, in completion order.

    Args:
        fn: a module-level (picklable) function.
        items: its picklable arguments.
        nj: worker processes; 1 runs in this process.
        desc: progress bar label (the bar is hidden when stderr is not a terminal).
        unit: progress bar unit.
    """
    with tqdm(total=len(items), desc=desc, unit=unit, disable=None) as progress:
        if nj <= 1 or len(items) <= 1:
            for item in items:
                yield fn(item)
                progress.update()
            return
        with ProcessPoolExecutor(max_workers=nj, mp_context=multiprocessing.get_context("spawn")) as pool:
            pending = {pool.submit(fn, item) for item in items}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in done:
                        yield future.result()
                        progress.update()
            finally:
                for future in pending:
                    future.cancel()
