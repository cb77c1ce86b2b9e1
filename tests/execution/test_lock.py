"""The stack lock: one holder at a time, waiting, naming the holder, stale locks broken only on request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from reconciler.execution.lock import Holder, LockHeld, break_lock, hold, lock_path, read_holder

ROOT = Path(__file__).resolve().parents[2]


def test_lock_path_is_per_backend_and_stack_and_safe(tmp_path: Path) -> None:
    a = lock_path(tmp_path, "local", "retail")
    assert a == tmp_path / ".reconciler" / "locks" / "local-retail.lock"
    assert lock_path(tmp_path, "aws", "retail") != a
    odd = lock_path(tmp_path, "local", "../../etc/x y")
    assert (
        odd.parent == a.parent
        and "/" not in odd.name
        and odd.name != lock_path(tmp_path, "local", "_.._etc_x_y").name
    )


def test_holder_is_recorded_and_released(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    with hold(path, command="reconciler apply s") as me:
        assert read_holder(path) == me
        assert me.pid == os.getpid() and me.command == "reconciler apply s" and me.alive() is True
    assert read_holder(path) is None  # a clean release leaves no record


def _holder_in_child(path: Path, *, kill: bool) -> tuple[subprocess.Popen[str], int]:
    """Take the lock in a child process; SIGKILL it when ``kill`` (else leave it holding)."""
    code = (
        "import sys, time; from pathlib import Path; from reconciler.execution.lock import hold\n"
        "with hold(Path(sys.argv[1]), command='reconciler apply child'):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    if kill:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    return child, child.pid


def _stop(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.wait()
    assert child.stdout is not None
    child.stdout.close()


def test_a_second_process_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    child, pid = _holder_in_child(path, kill=False)
    try:
        with pytest.raises(LockHeld) as info:
            with hold(path):
                pass
        err = info.value
        assert f"process {pid} on host" in err.message and "reconciler apply child" in err.message
        assert err.holder is not None and err.holder.alive() is True and "--lock-timeout" in err.hint
        with pytest.raises(LockHeld, match="waited"):
            with hold(path, timeout=0.5, poll=0.1):
                pass
        with pytest.raises(LockHeld):
            break_lock(path)  # a live holder's lock is not removed without --force
    finally:
        _stop(child)


def test_a_waiting_holder_gets_the_lock_when_the_first_ends(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    child, pid = _holder_in_child(path, kill=False)
    waits: list[Holder | None] = []
    timer = threading.Timer(0.5, child.kill)
    timer.start()
    try:
        with hold(path, timeout=30, poll=0.05, on_wait=waits.append) as me:
            assert read_holder(path) == me
    finally:
        timer.cancel()
        _stop(child)
    assert [h.pid for h in waits if h is not None] == [pid]


def test_a_killed_holder_never_blocks_and_is_reported_as_interrupted(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    _, pid = _holder_in_child(path, kill=True)
    assert read_holder(path) is not None and read_holder(path).alive() is False  # type: ignore[union-attr]
    interrupted: list[Holder] = []
    with hold(path, on_interrupted=interrupted.append):
        pass
    assert [h.pid for h in interrupted] == [pid]


def test_state_unlock_clears_an_interrupted_record(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    assert break_lock(path) is None  # nothing to do
    _, pid = _holder_in_child(path, kill=True)
    removed = break_lock(path)
    assert removed is not None and removed.pid == pid and read_holder(path) is None


def test_force_removes_a_hung_holders_lock(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    child, pid = _holder_in_child(path, kill=False)
    try:
        removed = break_lock(path, force=True)
        assert removed is not None and removed.pid == pid and not path.exists()
        with hold(path):  # a new lock file, taken at once
            pass
    finally:
        _stop(child)


def test_reused_pid_is_recognised_as_a_different_process() -> None:
    me = Holder.me("x")
    if not me.started:
        pytest.skip("no /proc on this platform")  # pragma: no cover
    assert me.alive() is True
    assert Holder(me.pid, me.host, me.since, started="1").alive() is False
    assert Holder(me.pid, "another-host", me.since).alive() is None


@pytest.mark.parametrize(
    "content", ["", "{", "[]", '{"pid": "x"}', "\xff", '{"pid": 1, "host": "h", "since": 1e300}']
)
def test_garbage_in_a_lock_file_is_harmless(tmp_path: Path, content: str) -> None:
    path = lock_path(tmp_path, "local", "s")
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="latin-1")
    with hold(path):
        pass
    break_lock(path)


def test_threads_of_one_process_are_kept_apart(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    with hold(path):
        with pytest.raises(LockHeld):
            with hold(path):
                pass


def test_processes_take_turns(tmp_path: Path) -> None:
    """Four processes each add 1 to a counter 10 times under the lock: no update is lost."""
    path = lock_path(tmp_path, "local", "s")
    counter = tmp_path / "counter"
    counter.write_text("0")
    code = (
        "import sys; from pathlib import Path; from reconciler.execution.lock import hold\n"
        "lock, counter = Path(sys.argv[1]), Path(sys.argv[2])\n"
        "for _ in range(10):\n"
        "    with hold(lock, timeout=60, poll=0.005):\n"
        "        n = int(counter.read_text()); counter.write_text(str(n + 1))\n"
    )
    children = [
        subprocess.Popen([sys.executable, "-c", code, str(path), str(counter)], cwd=ROOT) for _ in range(4)
    ]
    assert [c.wait(timeout=120) for c in children] == [0, 0, 0, 0]
    assert counter.read_text() == "40"
