"""The terminal: whether to colour, the live progress line, typed confirmation, what Ctrl-C left.

- Colour only when the output is a terminal, ``NO_COLOR`` is unset or empty (no-color.org),
  ``TERM`` is not ``dumb`` and ``--no-color`` was not given (every command takes it).
- ``Progress`` keeps one line at the bottom of the terminal while the state is read (calls
  finished / known so far) and while steps run (steps done / total, running, retries, elapsed).
  It is drawn with rich on stderr, only when stderr is a terminal: logs and pipes get the
  per-step lines and nothing else. On Ctrl-C it says what was done, what was in flight and how
  to resume; ``graceful_stop`` makes the first Ctrl-C let the calls in flight finish.
- ``JsonLines`` prints the events of ``--json``, one JSON object per line.
- ``confirm`` asks as Terraform does: only ``yes`` approves; a plan with irreversible steps asks
  for the collaboration's name instead.

rich is imported only when a progress line is drawn.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from reconciler.execution.backend import Boto3Backend
    from reconciler.execution.executor import Event
    from reconciler.planner.model import Plan, Step

__all__ = ["JsonLines", "Progress", "add_no_color", "color", "confirm", "graceful_stop", "paint"]

#: Where ``--no-color`` is recorded (``click.Context.meta`` is shared by a command and its group).
NO_COLOR = "reconciler.no_color"


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def color(stream: IO[Any] | None = None) -> bool:
    """True when output to ``stream`` (default stdout) may be coloured."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(NO_COLOR):
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(sys.stdout if stream is None else stream)


def paint(text: str, fg: str, *, err: bool = False, bold: bool = False) -> str:
    """``text`` in colour ``fg`` when the stream it goes to may be coloured, else as it is."""
    if not color(sys.stderr if err else sys.stdout):
        return text
    return click.style(text, fg=fg, bold=bold)


def _remember_no_color(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[NO_COLOR] = True


def add_no_color(command: click.Command) -> None:
    """Give ``command`` the ``--no-color`` flag (the CLI adds it to the group and every command)."""
    command.params.append(
        click.Option(
            ["--no-color"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_remember_no_color,
            help="No colours (also NO_COLOR=1, or when the output is not a terminal).",
        )
    )


class Progress:
    """The live line of a command that reads the state and maybe applies steps.

    Feed it the executor's events (``on_event``); it counts them whether or not a line is drawn,
    so ``interrupted`` can say what Ctrl-C left.

    Args:
        backend: whose read it shows (``Boto3Backend.reading`` and ``read_retries``).
        steps: the steps about to run (none for a read only).
        enabled: draw the line (default: stderr is a terminal and ``TERM`` is not ``dumb``).
    """

    def __init__(
        self, backend: Boto3Backend, steps: tuple[Step, ...] = (), *, enabled: bool | None = None
    ) -> None:
        self.backend = backend
        self.steps = steps
        self.enabled = (
            _isatty(sys.stderr) and os.environ.get("TERM") != "dumb" if enabled is None else enabled
        )
        self.started: dict[str, Step] = {}
        self.done: list[str] = []
        self.failed: list[str] = []
        self.retries = 0
        self.began = time.monotonic()
        self._lock = threading.Lock()
        self._live: Any = None

    def __enter__(self) -> Progress:
        self.began = time.monotonic()
        from reconciler.execution.crawl import Tally

        self.backend.reading = Tally()  # not the last read's count while this one starts
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=sys.stderr, no_color=not color(sys.stderr), highlight=False)
            self._live = Live(
                get_renderable=self._renderable,
                console=console,
                refresh_per_second=8,
                transient=True,
                redirect_stdout=True,
                redirect_stderr=True,
            )
            self._live.start(refresh=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def on_event(self, event: Event) -> None:
        """Count one executor event (start, done, retry, failed)."""
        with self._lock:
            if event.kind == "start":
                self.started[event.step.id] = event.step
            elif event.kind == "done":
                self.done.append(event.step.id)
            elif event.kind == "failed":
                self.failed.append(event.step.id)
            elif event.kind == "retry":
                self.retries += 1

    @property
    def running(self) -> list[Step]:
        """Steps started and not finished, in the order they started."""
        with self._lock:
            ended = {*self.done, *self.failed}
            return [s for sid, s in self.started.items() if sid not in ended]

    def line(self) -> str:
        """The progress line as text: the read until the first step starts, then the steps."""
        elapsed = time.monotonic() - self.began
        if not self.started:
            tally = self.backend.reading
            retries = self.backend.read_retries
            return (
                f"Reading state: {tally.done}/{tally.known} calls, "
                f"{retries} retr{'y' if retries == 1 else 'ies'}, {elapsed:.1f}s"
            )
        retries = self.retries + self.backend.read_retries
        return (
            f"Applying: {len(self.done)}/{len(self.steps)} steps done, {len(self.running)} running, "
            f"{retries} retr{'y' if retries == 1 else 'ies'}, {elapsed:.1f}s"
        )

    def _renderable(self) -> Any:
        from rich.text import Text

        return Text(self.line(), style="bold")

    def interrupted(self, resume: str) -> str:
        """What Ctrl-C left: steps done, in flight (they are let finish) and not started; how to resume.

        Args:
            resume: the command that carries on (``reconciler apply STACK``).
        """
        if not self.started:
            return "Interrupted while reading the state; nothing was changed.\n"
        running = self.running
        not_started = [s for s in self.steps if s.id not in self.started]
        lines = [
            f"Interrupted: {len(self.done)} of {len(self.steps)} step(s) done, {len(running)} in flight, "
            f"{len(not_started)} not started."
        ]
        lines += [f"  done: {sid}" for sid in self.done]
        lines += [f"  failed: {sid}" for sid in self.failed]
        lines += [
            f"  in flight (let finish; the next plan shows whether it took effect): {s.id}" for s in running
        ]
        lines += [f"  not started: {s.id}" for s in not_started]
        lines.append(
            "Every finished step is recorded in the state cache. To resume, plan what is left and apply it: "
            f"{resume}"
        )
        return "\n".join(lines) + "\n"


class JsonLines:
    """The event stream of ``--json``: one JSON object per line on stdout (``render.events``).

    Opening it prints the ``version`` line; an error that ends the command is printed as a
    ``diagnostic`` line (and as text on stderr, as always). Lines are written whole, under a
    lock, since retries are reported from the apply's worker threads.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        self._lock = threading.Lock()

    @classmethod
    @contextlib.contextmanager
    def maybe(cls, wanted: bool, command: str) -> Iterator[JsonLines | None]:
        """A stream when ``wanted`` (``--json``), else None."""
        if not wanted:
            yield None
            return
        with cls(command) as stream:
            yield stream

    def __enter__(self) -> JsonLines:
        from reconciler.render import events

        self.emit(events.version(self.command))
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        from reconciler.errors import ReconcilerError
        from reconciler.render import events

        if isinstance(error, ReconcilerError):
            self.emit(events.diagnostic(error))

    def emit(self, event: dict[str, Any]) -> None:
        """Print one event, with its ``timestamp``."""
        stamped = {**event, "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")}
        line = json.dumps(stamped, sort_keys=True, ensure_ascii=False, default=str)
        with self._lock:
            click.echo(line)


@contextlib.contextmanager
def graceful_stop(backend: Boto3Backend) -> Iterator[None]:
    """The first Ctrl-C asks ``backend`` to stop: the calls in flight end, nothing new starts.

    A read then raises ``KeyboardInterrupt`` once no call is running, and an apply returns with
    ``stopped`` set (every step it finished is recorded), so nothing is cut off mid-call and the
    clients are never closed under a running one. A second Ctrl-C stops at once. Where Ctrl-C is
    ignored (a background job), it stays ignored.
    """
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ask(signum: int, frame: object) -> None:
        if backend.stop.is_set():
            raise KeyboardInterrupt
        backend.stop.set()
        click.echo(
            "\nStopping: the calls in flight finish and nothing new starts (Ctrl-C again to quit at once).",
            err=True,
        )

    previous = signal.signal(signal.SIGINT, ask)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def confirm(plan: Plan) -> bool:
    """Ask before applying: only ``yes`` approves; irreversible steps need the collaboration's name.

    With several collaborations among the irreversible steps, the stack's name is asked for.
    End of input raises ``click.Abort`` (the CLI says that nothing was changed).

    Returns:
        True when the answer is exactly the word asked for.
    """
    irreversible = plan.irreversible_steps
    if irreversible:
        names = sorted({s.address.collaboration or plan.stack for s in irreversible})
        word, what = (names[0], "collaboration") if len(names) == 1 else (plan.stack, "stack")
        click.echo(
            paint(
                f"This plan has {len(irreversible)} irreversible step(s) (marked ! above):"
                " they cannot be undone.",
                "red",
                bold=True,
            )
        )
        click.echo(f"To carry them out, type the name of the {what}: {word}")
    else:
        word = "yes"
        click.echo("Do you want to apply this plan? Only 'yes' will be accepted.")
    answer = click.prompt("Enter a value", default="", show_default=False)
    return bool(answer.strip() == word)
