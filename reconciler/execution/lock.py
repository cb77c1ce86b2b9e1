"""The stack lock: one writer per stack and backend, a named holder, interrupted holders reported.

The lock is an OS file lock (``flock``) on ``.reconciler/locks/<backend>-<stack>.lock``, the
file ``workflow.stack_lock`` uses too. The kernel releases it when its process dies, so an apply
that is killed never blocks the next one; the file's content names the holder (pid, host,
process start time, command, since) and is emptied on a clean release. So:

- a second apply waits up to its timeout, polling, then fails with a message naming the holder
  (and whether that process still runs on this host);
- the next holder that finds a previous holder's record still in the file knows that apply was
  interrupted (killed, out of memory, power loss) and says so, so its user runs ``plan`` to see
  the remaining work;
- ``reconciler state unlock`` clears such a record, and with ``--force`` removes the lock file of
  a holder that hangs (or runs on another host sharing the directory): later applies then lock
  a new file; the hung process must be stopped by hand.

The lock keeps apart applies that share a working directory (one machine, one CI workspace); two
CI runners with separate checkouts are kept apart by the remote lock of ``execution.remote``,
taken after this one when the stack's state is remote. This module makes no API calls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from reconciler.errors import StateError, why_unusable

__all__ = ["HELD_HINT", "Holder", "LockHeld", "break_lock", "hold", "holder_of", "lock_path", "read_holder"]


#: What to do about a held lock (the local and the remote lock say the same).
HELD_HINT = (
    "wait for it to finish, or pass --lock-timeout SECONDS to wait; if it hangs, stop it"
    " (or run `reconciler state unlock --force`)"
)


def _start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` (Linux ``/proc``), to tell a reused pid apart; "" if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock.

    Args:
        pid: the holder's process id.
        host: the holder's host name.
        since: when it took the lock (ISO 8601, UTC).
        command: the command line it runs.
        started: the process's start time from ``/proc`` ("" when unknown).
        token: unique per acquisition (so a breaker can tell one holder from the next).
    """

    pid: int
    host: str
    since: str
    command: str = ""
    started: str = ""
    token: str = ""

    @classmethod
    def me(cls, command: str = "") -> Holder:
        """This process, now."""
        pid = os.getpid()
        since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(pid, socket.gethostname(), since, command, _start_time(pid), uuid.uuid4().hex)

    def alive(self) -> bool | None:
        """True/False when the holder runs on this host; None when that cannot be known (another host)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # someone else's process: it exists
        except (OverflowError, ValueError):
            return False
        now = _start_time(self.pid)
        return not (self.started and now and now != self.started)

    def describe(self) -> str:
        """``process 123 on host vm (reconciler apply specs/x) since 2026-01-01T10:00:00Z``."""
        what = f" ({self.command})" if self.command else ""
        return f"process {self.pid} on host {self.host}{what} since {self.since}"


class LockHeld(StateError):
    """The stack lock is held by someone else; ``holder`` says who (None if unreadable)."""

    def __init__(self, message: str, *, holder: Holder | None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.holder = holder


def lock_path(root: Path, backend: str, stack: str) -> Path:
    """Where the lock of ``stack`` on ``backend`` lives under the working directory ``root``.

    Characters that are unsafe in file names are replaced; a short hash keeps such names apart.
    """
    name = f"{backend}-{stack}"
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:100]
    if safe != name:
        safe += "-" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:8]
    return root / ".reconciler" / "locks" / f"{safe}.lock"


def holder_of(text: str) -> Holder | None:
    """The Holder a lock record's JSON names, or None when it names none (empty, torn, foreign)."""
    try:
        data = json.loads(text)
        since = data.get("since", "")
        if isinstance(since, int | float):  # older lock files wrote a Unix time
            since = dt.datetime.fromtimestamp(since, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Holder(
            pid=int(data["pid"]),
            host=str(data["host"]),
            since=str(since),
            command=str(data.get("command", "")),
            started=str(data.get("started", "")),
            token=str(data.get("token", "")),
        )
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return None


def _try_flock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _rewrite(handle: IO[str], text: str) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(text)
    handle.flush()
    os.fsync(handle.fileno())


def _refusal(path: Path, holder: Holder | None, waited: float) -> LockHeld:
    waited_text = f" (waited {waited:.1f} s)" if waited >= 0.05 else ""
    if holder is None:
        return LockHeld(
            f"the stack is locked by another process{waited_text} ({path})",
            holder=None,
            hint="wait for it to finish, or pass --lock-timeout SECONDS to wait",
        )
    alive = holder.alive()
    where = {
        None: "; it runs on another host sharing this directory",
        False: "; that process no longer runs here, yet holds the lock (a child of it may)",
        True: "",
    }[alive]
    return LockHeld(
        f"the stack is locked by {holder.describe()}{waited_text}{where}",
        holder=holder,
        hint=HELD_HINT,
    )


@contextlib.contextmanager
def hold(
    path: Path,
    *,
    timeout: float = 0.0,
    command: str | None = None,
    poll: float = 0.2,
    on_wait: Callable[[Holder | None], None] | None = None,
    on_interrupted: Callable[[Holder], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Holder]:
    """Hold the lock at ``path`` for the duration of the ``with`` block.

    Args:
        path: the lock file (``lock_path``).
        timeout: seconds to wait for another holder (0: fail at once).
        command: recorded for other processes to read (default: this process's argv).
        poll: seconds between attempts while waiting.
        on_wait: told once, when the lock is busy and we start waiting.
        on_interrupted: told about a previous holder that died holding the lock.
        sleep: waits (tests pass a fake).
        clock: monotonic seconds (tests pass a fake).

    Yields:
        Our Holder record.

    Raises:
        LockHeld: still held after ``timeout``; names the holder.
    """
    me = Holder.me(command if command is not None else " ".join(["reconciler", *sys.argv[1:]])[:300])
    start = clock()
    told = False
    with _open_lock_file(path) as handle:
        while not _try_flock(handle):
            holder = read_holder(path)
            waited = clock() - start
            if waited >= timeout:
                raise _refusal(path, holder, waited)
            if not told and on_wait is not None:
                on_wait(holder)
                told = True
            sleep(min(poll, timeout - waited))
        try:
            handle.seek(0)
            previous = holder_of(handle.read())
            if previous is not None and on_interrupted is not None:
                on_interrupted(previous)
            _rewrite(handle, json.dumps(asdict(me)))
            yield me
        finally:
            with contextlib.suppress(OSError):
                _rewrite(handle, "")
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _open_lock_file(path: Path) -> IO[str]:
    """Open (creating it and its directory) the lock file; a path that cannot hold one is a StateError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a+", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise StateError(
            f"cannot create the lock file {path}: {why_unusable(path, exc)}",
            hint=f"{path.parent} must be a writable directory and {path.name} a file in it: "
            "move aside whatever is in the way",
        ) from None


def read_holder(path: Path) -> Holder | None:
    """The holder recorded in the lock file, or None when there is none or it cannot be read."""
    try:
        return holder_of(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def break_lock(path: Path, *, force: bool = False) -> Holder | None:
    """Clear a lock record left by an interrupted apply, or remove a hung holder's lock (``state unlock``).

    Args:
        path: the lock file.
        force: also remove the lock of a holder that still holds it (it hangs, or runs on
            another host): the file is deleted, so later applies lock a new one.

    Returns:
        The holder whose record or lock was removed, or None when there was none.

    Raises:
        LockHeld: the lock is held and ``force`` was not given; nothing was removed.
    """
    if not path.exists():
        return None
    with _open_lock_file(path) as handle:
        holder = read_holder(path)
        if _try_flock(handle):
            try:
                _rewrite(handle, "")
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return holder
    if not force:
        raise _refusal(path, holder, 0.0)
    path.unlink(missing_ok=True)
    return holder or Holder(0, "unknown", "")
