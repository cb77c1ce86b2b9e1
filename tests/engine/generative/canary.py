"""Find planted values in a result: every cell, recursively through lists, maps and structs, as text.

A cell leaks a canary when its text (as is, upper-cased, or reversed) contains any 8 consecutive
characters of one (so fragments, case changes and reversals are caught), or contains the first
16 characters of the canary's hex, base64, MD5, SHA-1 or SHA-256 form. Canaries and identities
are random upper-case tokens, so no allowed value contains such a window by chance. The scan is
linear in the length of the text: one set lookup per position.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

GRAM = 8
DIGEST = 16


class Detector:
    def __init__(self, canaries: Iterable[str]) -> None:
        self.grams: dict[str, str] = {}
        self.digests: dict[str, str] = {}
        self.whole: dict[str, str] = {}  # to name the canary itself when the whole of it is there
        for c in canaries:
            up = c.upper()
            self.whole[up] = c
            for i in range(len(up) - GRAM + 1):
                self.grams.setdefault(up[i : i + GRAM], c)
            raw = c.encode()
            forms = [
                raw.hex().upper(),
                base64.b64encode(raw).decode(),
                hashlib.md5(raw).hexdigest().upper(),
                hashlib.sha1(raw).hexdigest().upper(),
                hashlib.sha256(raw).hexdigest().upper(),
            ]
            for form in forms:
                self.digests.setdefault(form[:DIGEST], c)

    def find(self, text: str) -> str | None:
        """The canary whose trace is in ``text``, or None."""
        if len(text) < GRAM:
            return None
        up = text.upper()
        for candidate in (up, up[::-1]):
            for i in range(len(candidate) - GRAM + 1):
                hit = self.grams.get(candidate[i : i + GRAM])
                if hit is not None:
                    return self.whole.get(candidate[i : i + len(hit)], hit)
        if len(text) >= DIGEST:
            for candidate in (text, up):
                for i in range(len(candidate) - DIGEST + 1):
                    hit = self.digests.get(candidate[i : i + DIGEST])
                    if hit is not None:
                        return hit
        return None

    def scan(self, rows: Iterable[Iterable[Any]]) -> tuple[str, str] | None:
        """(canary, cell text) of the first leaking cell, or None."""
        for row in rows:
            for cell in row:
                for text in texts(cell):
                    hit = self.find(text)
                    if hit is not None:
                        return hit, text[:200]
        return None


def texts(value: Any) -> Iterator[str]:
    """Every text a cell shows: nested values one by one, and the whole value's repr."""
    if value is None or isinstance(value, bool | int | float | decimal.Decimal | dt.date | dt.time):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        yield raw.decode("latin-1")
        yield raw.hex()
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from texts(k)
            yield from texts(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from texts(v)
    elif isinstance(value, uuid.UUID | dt.timedelta):
        yield str(value)
    else:
        yield repr(value)
