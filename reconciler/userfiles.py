"""Files a user names on the command line (``--out``, ``--file``, ``-o``): read and written safely.

A path the user typed can be anything: missing, a directory, unreadable, not UTF-8, on a
read-only or pseudo file system. Each such problem becomes one ``ReconcilerError`` naming the
file, what went wrong and the option to change, instead of an ``OSError`` traceback. Writes are
atomic (temporary file + rename, as ``state.write_atomically``), so a failed write leaves
nothing half-written. Files the tool owns (state cache, plan files, the local backend) keep their
own handling.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import ReconcilerError, why_unusable
from reconciler.execution.state import write_atomically

__all__ = ["read_text", "write_text"]


def read_text(path: Path, *, what: str, option: str) -> str:
    """The UTF-8 text of ``path``.

    Args:
        path: the file the user named.
        what: what the file holds, for the message ("the query file").
        option: the option that named it, for the hint ("--file").

    Raises:
        ReconcilerError: the file is missing, not a file, unreadable, or not UTF-8.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReconcilerError(
            f"cannot read {what} {path}: {exc.strerror or exc}",
            hint=f"check the path given to {option} and that the file is readable",
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ReconcilerError(
            f"{path}:{line}:{column}: {what} is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            hint="save the file as UTF-8",
        ) from None


def write_text(path: Path, text: str, *, what: str, option: str) -> Path:
    """Write ``text`` to ``path`` atomically (its directory is created); returns ``path``.

    Args:
        path: the file the user named.
        text: the complete content.
        what: what the file holds, for the message ("the JSON Schema").
        option: the option that named it, for the hint ("--out").

    Raises:
        ReconcilerError: the file or its directory cannot be written; nothing was written.
    """
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise ReconcilerError(
            f"cannot write {what} to {path}: {why_unusable(path, exc)}",
            hint=f"give {option} a path in a directory you can write to",
        ) from None
    return path
