"""What every topic of the benchmark shares: a timing record, best-of-n timing, atomic writes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    """One measured run: what was priced, on what, how fast."""

    name: str
    backend: str
    options: int
    paths: int
    steps: int
    threads: int
    seconds: float

    @property
    def path_steps_per_second(self) -> float:
        return self.options * self.paths * self.steps / self.seconds


def best_seconds(run, repeats: int, warm_up: bool = True) -> float:
    if warm_up:
        run()  # warm-up: JIT compilation, kernel loading, caches
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return float(best)
