"""The garbage-collector policy: when the cyclic collector is paused or kept off long-lived objects.

Reference counting frees nearly everything this program drops; the cyclic collector only finds
garbage in reference cycles. Its automatic passes, triggered by allocations, walk every tracked
container, so a step that builds hundreds of thousands of them (a large rule check, decoding a
10,000-resource state document, a read) paid for the same walks again and again, a share that
grew faster than the input. Two tools, used by the engine, the spec load, the emulator's store,
the read and the planner:

- ``collector_paused``: no collection while a bounded step runs (re-entrant, thread-safe: the
  collector comes back on when the last paused step in any thread ends);
- ``older_objects_frozen``: the objects alive before a read or apply are skipped by the
  collections during it (``gc.freeze``), and handed back when it ends.

Neither changes what is freed, only when: cyclic garbage made meanwhile waits for the first
collection afterwards.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["collector_paused", "older_objects_frozen"]

_paused = 0
_paused_lock = threading.Lock()
_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run a step with the cyclic garbage collector paused (re-entrant, thread-safe).

    For steps whose memory is bounded: a rule check (bounded by ``engine.budget``), loading the
    spec and its normal form, opening the emulator's store, decoding or encoding the state
    document, normalizing what a read found, building the plan. The
    collector is enabled again, if it was, when the last paused step ends.

    >>> with collector_paused():
    ...     with collector_paused():
    ...         pass
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    global _paused, _was_enabled
    with _paused_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


@contextlib.contextmanager
def older_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector off the objects that exist before a read (or apply), while it runs.

    A read allocates about 15 containers per resource while the spec, the desired resources and
    (locally) the emulator's records, all alive for the whole command, already hold several times
    more. Each full collection during the read walked all of them, and there are more full
    collections the larger the stack (about 16 % of a 10,000-resource no-change plan). Frozen
    (``gc.freeze``), they are skipped; they are handed back (``gc.unfreeze``) when the read ends,
    so cyclic garbage among them is collected later rather than never.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
