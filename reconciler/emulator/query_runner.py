"""The query runner: protected queries run off the request path, as on AWS.

StartProtectedQuery only records a SUBMITTED query and wakes the runner. The runner then takes
each query through ``protected_queries``' phases: ``begin`` (SUBMITTED -> STARTED, committed, so
clients see it), ``prepare_run`` (under the store lock), ``execute`` (the engine, without the
lock: other requests are answered meanwhile, a cancel among them) and ``finish`` (SUCCESS or
FAILED; a result for a query cancelled or timed out meanwhile is thrown away). One query runs at
a time, oldest first.

Two modes:

- ``background`` (the default, and what ``reconciler serve`` uses): a daemon thread started on
  the first protected-query request; it also takes up queries a previous process left unfinished
  (a STARTED one is run again: its budget was charged once, at Start).
- ``manual`` (deterministic tests): nothing runs by itself. ``start_pending()`` moves SUBMITTED
  queries to STARTED, ``finish_started()`` runs the STARTED ones, and ``run_pending()`` (the
  run-now hook) does both. With an injected clock a test can watch every status, cancel a
  STARTED query, or move the clock past the timeout to see TIMED_OUT.

``timeout`` (seconds, from a query's creation, on the emulator's clock) is when an unfinished
query ends TIMED_OUT. AWS does not document its own limit; the local default is 10 minutes, far
above the engine's own run limit (``RECONCILER_QUERY_TIMEOUT``, after which a run FAILS with
INSUFFICIENT_COMPUTE), so locally TIMED_OUT means a query waited too long, not that it ran long.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from reconciler.emulator import protected_queries as pq
from reconciler.emulator.context import RequestContext
from reconciler.emulator.store import Record, Store

__all__ = ["DEFAULT_TIMEOUT", "MODES", "Mode", "QueryRunner"]

Mode = Literal["background", "manual"]
#: The runner's modes (see the module docstring).
MODES: tuple[Mode, ...] = ("background", "manual")
#: Record field of a query that ``run_now`` runs (the background thread leaves it alone).
INLINE = "_inline"
#: Seconds after its creation when an unfinished protected query ends TIMED_OUT.
DEFAULT_TIMEOUT = 600.0

_log = logging.getLogger(__name__)


class QueryRunner:
    """Runs the protected queries of one emulator.

    Args:
        store: the emulator's store.
        context: builds the RequestContext a phase runs in, for a query record (its owner's account).
        staging: where result files are written before they are moved into place.
        mode: ``background`` or ``manual``.
        timeout: seconds from creation after which an unfinished query ends TIMED_OUT (None: never).
    """

    def __init__(
        self,
        store: Store,
        context: Callable[[Record], RequestContext],
        staging: Path,
        *,
        mode: Mode = "background",
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"query runner mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.timeout = timeout
        self._store = store
        self._context = context
        self._staging = staging
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # -- called by the handlers ---------------------------------------------------------------

    def wake(self) -> None:
        """There may be work (a query was started, or an unfinished one was read)."""
        if self.mode != "background" or self._stopping:
            return
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._loop, name="reconciler-query-runner", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    # -- the run-now hooks (manual mode; they work in background mode too) --------------------

    def start_pending(self) -> list[str]:
        """Move every SUBMITTED query to STARTED (or TIMED_OUT); returns the ids now STARTED."""
        started = []
        with self._store.lock:
            for record in self._unfinished("SUBMITTED"):
                ctx = self._context(record)
                if pq.begin(ctx, record, self.timeout):
                    started.append(record["id"])
            self._store.commit()
        return started

    def finish_started(self) -> list[str]:
        """Run every STARTED query to its end; returns the ids run."""
        with self._store.lock:
            ids = [r["id"] for r in self._unfinished("STARTED")]
        for query_id in ids:
            self._run(query_id)
        return ids

    def run_pending(self) -> list[str]:
        """Run every unfinished query to its end, now, in this thread; returns the ids run."""
        self.start_pending()
        return self.finish_started()

    def run_now(self, query_id: str) -> None:
        """Run one SUBMITTED query to its end in this thread, and keep the background thread off it.

        For queries the emulator starts on a caller's behalf (Clean Rooms ML's input channels and
        seed queries), which their own resource's status then reports: the handler holds the store
        lock (re-entrant) throughout, so no other thread sees the query before it has ended.
        """
        with self._store.lock:
            record = self._store.get(pq.KIND, query_id)
            if record is None or record["status"] != "SUBMITTED":
                return
            record = {**record, INLINE: True}
            self._store.put(pq.KIND, query_id, record)
            if not pq.begin(self._context(record), record, self.timeout):
                return
            self._run(query_id)

    def close(self) -> None:
        """Stop the background thread (a run under way is finished first)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # -- internals ----------------------------------------------------------------------------

    def _unfinished(self, status: str) -> list[Record]:
        records = [r for r in self._store.find(pq.KIND, status=status) if not r.get(INLINE)]
        return sorted(records, key=lambda r: (r["createTime"], r["id"]))

    def _run(self, query_id: str) -> None:
        """Prepare, execute and finish one STARTED query; any bug ends it FAILED, never the runner."""
        try:
            with self._store.lock:
                record = self._store.get(pq.KIND, query_id)
                if record is None or record["status"] != "STARTED":
                    return
                run = pq.prepare_run(self._context(record), record)
            outcome = pq.execute(run, self._staging)
            with self._store.lock:
                record = self._store.get(pq.KIND, query_id)
                if record is not None:
                    pq.finish(self._context(record), query_id, outcome, self.timeout)
                self._store.commit()
        except Exception as exc:  # noqa: BLE001 - a bug in a run must not stop the other queries
            _log.exception("protected query %s failed in the local runner", query_id)
            with self._store.lock:
                self._store.rollback()
                record = self._store.get(pq.KIND, query_id)
                if record is not None:
                    message = f"the local query runner failed ({type(exc).__name__}: {exc}); a reconciler bug"
                    pq.fail(self._context(record), query_id, message)
                self._store.commit()

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.wait()
            self._wake.clear()
            while not self._stopping:
                with self._store.lock:
                    resumed = self._unfinished("STARTED")
                if resumed:
                    self._run(resumed[0]["id"])
                    continue
                with self._store.lock:
                    waiting = self._unfinished("SUBMITTED")
                    if not waiting:
                        break
                    record = waiting[0]
                    began = pq.begin(self._context(record), record, self.timeout)
                    self._store.commit()
                if began:
                    self._run(record["id"])
