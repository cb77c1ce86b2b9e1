"""The stack lock: one holder at a time, waiting, naming the holder, stale locks broken only on request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.lock import Holder, LockHeld, break_lock, hold, lock_path, read_holder

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
    assert not path.exists()


def test_second_holder_fails_at_once_naming_the_first(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    with hold(path, command="reconciler apply first"):
        with pytest.raises(LockHeld) as info:
            with hold(path):
                pass
    err = info.value
    assert f"process {os.getpid()}" in err.message and "reconciler apply first" in err.message
    assert not err.stale and err.holder is not None and "--lock-timeout" in err.hint


def test_second_holder_waits_for_the_first(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    order: list[str] = []
    taken = threading.Event()

    def first() -> None:
        with hold(path, command="first"):
            taken.set()
            time.sleep(0.5)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    taken.wait()
    waits: list[Holder | None] = []
    with hold(path, timeout=10, poll=0.05, on_wait=waits.append):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]
    assert len(waits) == 1 and waits[0] is not None and waits[0].command == "first"


def test_timeout_is_bounded(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    with hold(path):
        start = time.monotonic()
        with pytest.raises(LockHeld, match=r"waited"):
            with hold(path, timeout=1.0, poll=0.1):
                pass
        assert 0.8 < time.monotonic() - start < 5


def _killed_holder(path: Path) -> int:
    """Take the lock in a child process and SIGKILL it: the lock file stays behind."""
    code = (
        "import sys, time; from pathlib import Path; from reconciler.lock import hold\n"
        "with hold(Path(sys.argv[1]), command='reconciler apply killed'):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert path.exists()
    return child.pid


def test_a_lock_left_by_a_killed_process_is_reported_stale_and_broken_only_on_request(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    pid = _killed_holder(path)
    with pytest.raises(LockHeld) as info:
        with hold(path):
            pass
    assert info.value.stale and f"process {pid}" in info.value.message
    assert "no longer running" in info.value.message and "--break-lock" in info.value.hint
    assert path.exists()  # not broken silently

    broken: list[Holder] = []
    with hold(path, break_stale=True, on_break=broken.append) as me:
        assert read_holder(path) == me
    assert [h.pid for h in broken] == [pid]


def test_state_unlock_breaks_a_dead_lock_but_not_a_live_one(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    assert break_lock(path) is None  # nothing to do
    pid = _killed_holder(path)
    removed = break_lock(path)
    assert removed is not None and removed.pid == pid and not path.exists()

    with hold(path):
        with pytest.raises(LockHeld, match="locked by process"):
            break_lock(path)
        assert path.exists()


def test_reused_pid_is_recognised_as_a_different_process(tmp_path: Path) -> None:
    me = Holder.me("x")
    if not me.started:
        pytest.skip("no /proc on this platform")  # pragma: no cover
    assert me.alive() is True
    assert Holder(me.pid, me.host, me.since, started="1").alive() is False


def test_a_holder_on_another_host_needs_force(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "local", "s")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": 1, "host": "ci-runner-7", "since": "2026-01-01T00:00:00Z"}))
    with pytest.raises(LockHeld, match="another host") as info:
        with hold(path, break_stale=True):
            pass
    assert "--force" in info.value.hint
    with pytest.raises(LockHeld):
        break_lock(path)
    assert break_lock(path, force=True) is not None and not path.exists()


@pytest.mark.parametrize("content", ["", "{", "[]", '{"pid": "x"}', "\xff"])
def test_an_unreadable_lock_file_is_named_and_can_be_forced(tmp_path: Path, content: str) -> None:
    path = lock_path(tmp_path, "local", "s")
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="latin-1")
    with pytest.raises(LockHeld, match="cannot be read"):
        with hold(path, break_stale=True):
            pass
    with pytest.raises(StateError):
        break_lock(path)
    break_lock(path, force=True)
    assert not path.exists()


def test_processes_take_turns(tmp_path: Path) -> None:
    """Four processes each add 1 to a counter 10 times under the lock: no update is lost."""
    path = lock_path(tmp_path, "local", "s")
    counter = tmp_path / "counter"
    counter.write_text("0")
    code = (
        "import sys; from pathlib import Path; from reconciler.lock import hold\n"
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
