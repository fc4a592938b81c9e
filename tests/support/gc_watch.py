"""Watch Python's cyclic collector: how many collections started, and how
many of them while one of the given functions was on the stack."""

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Collections:
    codes: tuple
    total: int = 0
    inside: list[str] = field(default_factory=list)

    def __call__(self, phase: str, info: dict) -> None:
        if phase != "start":
            return
        self.total += 1
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code in self.codes:
                self.inside.append(frame.f_code.co_name)
                return
            frame = frame.f_back


@contextmanager
def collections_watched(*functions, threshold: int = 50) -> Iterator[Collections]:
    """A collection every ``threshold`` allocations (instead of 700), so that
    a block of a few patients crosses it many times."""
    watched = Collections(codes=tuple(f.__code__ for f in functions))
    before = gc.get_threshold()
    gc.set_threshold(threshold, *before[1:])
    gc.callbacks.append(watched)
    try:
        yield watched
    finally:
        gc.callbacks.remove(watched)
        gc.set_threshold(*before)
