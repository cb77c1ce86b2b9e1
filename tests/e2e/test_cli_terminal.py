"""The terminal as a person sees it: colour, NO_COLOR, the progress line, Ctrl-C, typed confirmation.

Commands that must believe they talk to a terminal run in a child process on a pseudo-terminal
(``pty``): its stdout and stderr are the pty's slave end, and everything written is read back
from the master end. Ctrl-C is the SIGINT a terminal sends to its foreground process.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import ROOT, run
from e2e_helpers import copy_stack, live_resources

from reconciler.emulator.faults import ENV_VAR

#: An SGR sequence that sets a colour (foreground 30-37/90-97 or 256-colour/true colour).
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|38;[25])[;m]")
#: Any CSI escape sequence (colours, cursor movement, erase line).
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", ENV_VAR)}
    return {**env, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", **extra}


def in_pty(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    until: Callable[[str], bool] | None = None,
    then: Callable[[subprocess.Popen[bytes]], None] | None = None,
    timeout: float = 120,
) -> tuple[int, str]:
    """Run ``reconciler ARGS`` on a pseudo-terminal; return (exit code, everything it printed).

    When ``until`` holds for the output so far, ``then`` is called once with the process.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    with subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env or _env(),
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        # a shell's background job inherits SIGINT ignored, and Python then keeps ignoring it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as proc:
        os.close(slave)
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        fired = False
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.1)
                if ready:
                    try:
                        data = os.read(master, 65536)
                    except OSError:  # EIO: the child closed the terminal
                        break
                    if not data:
                        break
                    chunks.append(data)
                elif proc.poll() is not None:
                    break
                if not fired and until is not None and then is not None:
                    if until(b"".join(chunks).decode("utf-8", "replace")):
                        fired = True
                        then(proc)
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            os.close(master)
            if proc.poll() is None:
                proc.kill()
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_a_plan_on_a_terminal_is_coloured(tmp_path: Path) -> None:
    code, out = in_pty(tmp_path, "plan", "retail-adtech")
    assert code == 0, out
    assert COLOUR.search(out) and "+ collaboration.retail-ad-campaign-analysis" in out


@pytest.mark.parametrize(
    ("flag", "env"), [((), {"NO_COLOR": "1"}), (("--no-color",), {}), ((), {"TERM": "dumb"})]
)
def test_no_color_and_no_color_flag_turn_colour_off(
    tmp_path: Path, flag: tuple[str, ...], env: dict[str, str]
) -> None:
    code, out = in_pty(tmp_path, "plan", "retail-adtech", *flag, env=_env(**env))
    assert code == 0, out
    assert "+ collaboration.retail-ad-campaign-analysis" in out
    assert not COLOUR.search(out), repr(out[:300])


def test_output_that_is_not_a_terminal_has_no_escapes_and_no_progress_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", "retail-adtech", "--auto-approve"],
        cwd=tmp_path,
        env=_env(**{ENV_VAR: json.dumps({"latency_ms": 50})}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout + done.stderr
    assert "Reading state" not in done.stderr and "Applying:" not in done.stderr
    assert "create collaboration.retail-ad-campaign-analysis: done" in done.stdout


@pytest.mark.parametrize("no_color", [False, True])
def test_a_terminal_gets_a_progress_line_while_reading_and_applying(tmp_path: Path, no_color: bool) -> None:
    extra = {ENV_VAR: json.dumps({"latency_ms": 150}), **({"NO_COLOR": "1"} if no_color else {})}
    code, out = in_pty(tmp_path, "apply", "retail-adtech", "--auto-approve", env=_env(**extra))
    assert code == 0, out
    assert re.search(r"Reading state: \d+/\d+ calls, \d+ retr(y|ies), \d+\.\ds", out), out
    assert re.search(r"Applying: \d+/11 steps done, \d+ running, \d+ retr(y|ies), \d+\.\ds", out), out
    assert "Apply complete: 11 step(s) done" in out
    assert bool(COLOUR.search(out)) is not no_color


def test_ctrl_c_during_apply_says_what_was_done_in_flight_and_how_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    code, out = in_pty(
        tmp_path,
        "apply",
        str(stack),
        "--auto-approve",
        env=_env(**{ENV_VAR: json.dumps({"latency_ms": 300})}),
        until=lambda text: ": done" in ANSI.sub("", text),
        then=lambda proc: proc.send_signal(signal.SIGINT),
    )
    assert code == 130, out
    assert "Traceback" not in out
    summary = out[out.index("Interrupted:") :]
    assert re.search(r"Interrupted: (\d+) of 11 step\(s\) done, \d+ in flight, \d+ not started\.", summary)
    assert "  done: create " in summary and "  not started: " in summary
    assert f"To resume, plan what is left and apply it: reconciler apply {stack}" in summary
    # what it says is true: the rest is still to do, and applying again converges
    code, _, _ = run(capsys, "plan", str(stack), "--detailed-exitcode")
    assert code == 2
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    assert run(capsys, "plan", str(stack), "--detailed-exitcode")[0] == 0


def test_ctrl_c_while_the_state_is_read_stops_after_the_calls_in_flight(tmp_path: Path) -> None:
    began = time.monotonic()
    code, out = in_pty(
        tmp_path,
        "plan",
        "retail-adtech",
        env=_env(**{ENV_VAR: json.dumps({"latency_ms": 1500})}),
        until=lambda text: "Reading state" in text,
        then=lambda proc: proc.send_signal(signal.SIGINT),
    )
    assert code == 130, out
    assert "Interrupted while reading the state; nothing was changed." in out and "Traceback" not in out
    assert time.monotonic() - began < 30


@pytest.mark.parametrize(
    ("answer", "applied"), [("y\n", False), ("YES\n", False), ("\n", False), ("yes\n", True)]
)
def test_only_yes_approves_an_apply(
    answer: str,
    applied: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    code, out, err = run(capsys, "apply", str(stack))
    assert "Only 'yes' will be accepted" in out
    assert code == (0 if applied else 1), out + err
    assert bool(live_resources(tmp_path, stack)["collaborations"]) is applied
    if not applied:
        assert "Apply cancelled; nothing was changed." in err


@pytest.mark.parametrize(
    ("answer", "destroyed"),
    [("yes\n", False), ("retail-adtech\n", False), ("retail-ad-campaign-analysis\n", True)],
)
def test_irreversible_steps_need_the_collaborations_name(
    answer: str,
    destroyed: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    code, out, err = run(capsys, "destroy", str(stack), "--allow-destroy")
    assert "irreversible step(s)" in out
    assert "type the name of the collaboration: retail-ad-campaign-analysis" in out
    assert code == (0 if destroyed else 1), out + err
    assert (live_resources(tmp_path, stack)["collaborations"] == []) is destroyed
