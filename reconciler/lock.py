"""The stack lock: one writer per stack and backend, a named holder, stale locks broken on request.

The lock is a file, ``.reconciler/locks/<backend>-<stack>.lock``, holding JSON that names its
holder (pid, host, process start time, command, when). Taking it is one atomic ``os.link`` of a
fully written temporary file onto that name: it fails if the name exists, and nobody ever reads a
half-written holder. A second apply waits up to its timeout, polling, then fails with a message
naming the holder. A lock whose holder is gone (same host, pid not running, or a different
process now under that pid) is *stale*: it is reported as such but broken only when asked
(``--break-lock``, ``reconciler state unlock``), and breaking happens under a short ``flock`` on a
guard file, so two breakers cannot both take over, nor break a lock that was just retaken. A
holder on another host cannot be checked; only ``state unlock --force`` removes its lock.

The lock lives beside the working directory, so it keeps apart applies that share that
directory (one machine, one CI workspace); two CI runners with separate checkouts need the
pipeline's own serialization (a concurrency group). This module makes no API calls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from reconciler.errors import StateError

try:  # the guard is advisory; without fcntl (Windows) breaking is merely not race-free
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms we test
    fcntl = None  # type: ignore[assignment]

__all__ = ["Holder", "LockHeld", "break_lock", "hold", "lock_path", "read_holder"]


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

    def __init__(self, message: str, *, holder: Holder | None, stale: bool, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.holder = holder
        self.stale = stale


def lock_path(root: Path, backend: str, stack: str) -> Path:
    """Where the lock of ``stack`` on ``backend`` lives under the working directory ``root``.

    Characters that are unsafe in file names are replaced; a short hash keeps such names apart.
    """
    name = f"{backend}-{stack}"
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:100]
    if safe != name:
        safe += "-" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:8]
    return root / ".reconciler" / "locks" / f"{safe}.lock"


def read_holder(path: Path) -> Holder | None:
    """The holder recorded in the lock file, or None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(
            pid=int(data["pid"]),
            host=str(data["host"]),
            since=str(data.get("since", "")),
            command=str(data.get("command", "")),
            started=str(data.get("started", "")),
            token=str(data.get("token", "")),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _try_take(path: Path, me: Holder) -> bool:
    """Create the lock file atomically with ``me`` in it; False when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(me), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@contextlib.contextmanager
def _guard(path: Path) -> Iterator[None]:
    """Serialize breakers with an advisory lock on ``<lock>.guard`` (released if we die)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".guard"), "a+") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _unlink_if(path: Path, expected: Holder | None, *, force: bool) -> Holder | None:
    """Remove the lock when it is still held by ``expected`` (or by anyone, with ``force``)."""
    with _guard(path):
        current = read_holder(path)
        if not path.exists():
            return None
        if not force and current != expected:
            return None
        path.unlink(missing_ok=True)
        return current


def _refusal(path: Path, holder: Holder | None, waited: float) -> LockHeld:
    waited_text = f" (waited {waited:.1f} s)" if waited >= 0.05 else ""
    if holder is None:
        return LockHeld(
            f"the stack is locked{waited_text}, and the lock file {path} cannot be read",
            holder=None,
            stale=False,
            hint=f"if no other apply is running, run `reconciler state unlock --force` or delete {path}",
        )
    alive = holder.alive()
    if alive is False:
        return LockHeld(
            f"the stack is locked by {holder.describe()}{waited_text}; that process is no longer"
            " running, so the lock is stale (its apply was interrupted)",
            holder=holder,
            stale=True,
            hint="break it with `--break-lock` (or `reconciler state unlock`), then run `reconciler plan`"
            " to see the remaining work",
        )
    where = "" if alive else "; it runs on another host, so this one cannot tell whether it is still alive"
    return LockHeld(
        f"the stack is locked by {holder.describe()}{waited_text}{where}",
        holder=holder,
        stale=False,
        hint="wait for it to finish or pass --lock-timeout SECONDS to wait;"
        + (" if it is gone, run `reconciler state unlock --force`" if alive is None else ""),
    )


@contextlib.contextmanager
def hold(
    path: Path,
    *,
    timeout: float = 0.0,
    break_stale: bool = False,
    command: str | None = None,
    poll: float = 0.2,
    on_wait: Callable[[Holder | None], None] | None = None,
    on_break: Callable[[Holder], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Holder]:
    """Hold the lock at ``path`` for the duration of the ``with`` block.

    Args:
        path: the lock file (``lock_path``).
        timeout: seconds to wait for another holder (0: fail at once).
        break_stale: take over a lock whose holder is known to be dead (``--break-lock``).
        command: recorded for other processes to read (default: this process's argv).
        poll: seconds between attempts while waiting.
        on_wait: told once, when the lock is busy and we start waiting.
        on_break: told about a stale holder whose lock was broken.
        sleep: waits (tests pass a fake).
        clock: monotonic seconds (tests pass a fake).

    Yields:
        Our Holder record.

    Raises:
        LockHeld: still held after ``timeout``; names the holder and whether it is stale.
    """
    me = Holder.me(command if command is not None else " ".join(["reconciler", *sys.argv[1:]])[:300])
    start = clock()
    told = False
    while not _try_take(path, me):
        holder = read_holder(path)
        if break_stale and holder is not None and holder.alive() is False:
            broken = _unlink_if(path, holder, force=False)
            if broken is not None and on_break is not None:
                on_break(broken)
            continue
        if holder is None and not path.exists():
            continue  # released between our attempt and the read
        waited = clock() - start
        if waited >= timeout:
            raise _refusal(path, holder, waited)
        if not told and on_wait is not None:
            on_wait(holder)
            told = True
        sleep(min(poll, timeout - waited))
    try:
        yield me
    finally:
        _unlink_if(path, me, force=False)


def break_lock(path: Path, *, force: bool = False) -> Holder | None:
    """Remove a lock left behind (``reconciler state unlock``).

    Args:
        path: the lock file.
        force: also remove a lock whose holder may be alive (another host, unreadable file).

    Returns:
        The holder whose lock was removed, or None when there was no lock.

    Raises:
        LockHeld: the holder is (or may be) alive and ``force`` was not given; nothing was removed.
    """
    if not path.exists():
        return None
    holder = read_holder(path)
    alive = holder.alive() if holder is not None else None
    if not force and alive is not False:
        raise _refusal(path, holder, 0.0)
    removed = _unlink_if(path, holder, force=force)
    if removed is None and path.exists():
        raise StateError(f"the lock {path} changed while it was being broken; nothing was removed")
    return removed or holder
