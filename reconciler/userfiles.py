"""Files on disk: the one atomic write, and the files a user names on the command line.

``write_atomically`` is how every file the tool writes is written (plan files, the state cache,
``--out`` files): a temporary file in the same directory, flushed, then renamed over the target,
so readers see the old file or the new one, never half of one.

A path the user typed (``--out``, ``--file``, ``-o``) can be anything: missing, a directory,
unreadable, not UTF-8, on a read-only or pseudo file system. ``read_text`` and ``write_text`` turn
each such problem into one ``ReconcilerError`` naming the file, what went wrong and the option to
change, instead of an ``OSError`` traceback. Files the tool owns (state cache, plan files, the
local backend) report their own problems in their own words.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from reconciler.errors import ReconcilerError, why_unusable

__all__ = ["read_text", "write_atomically", "write_text"]


def write_atomically(path: Path, text: str, *, replace: bool = True) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half of one.

    Args:
        path: destination; its directory is created if needed.
        text: the complete new content.
        replace: False: never replace an existing file, even one that appears while writing
            (the finished file is hard-linked into place, which fails if the name is taken).

    Raises:
        FileExistsError: ``replace`` is False and ``path`` exists; nothing was written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not replace and path.exists():
        raise FileExistsError(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
