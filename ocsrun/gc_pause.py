"""`gc_paused()`: no cyclic garbage collection while many acyclic objects are made at once.

Reading a runbook (nodes, data, the model) or a journal (ten thousand records) makes hundreds
of thousands of objects that stay alive until the end and form no cycles. Allocation keeps
triggering collections, each walking everything alive: for a 1 MB runbook that was half the
time of loading it. Garbage is still freed by reference counting meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collection resumes at the end; nested uses leave it to the outermost."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
