"""Pagination tokens: opaque, bound to one operation and request, and tamper-evident.

A ``nextToken`` the emulator hands out is the position of the next item plus an HMAC-SHA256
over that position, the operation, the calling account and the request's other parameters
(``maxResults`` aside, which a client may change between pages), keyed with a secret kept in the
workspace's store (``PageTokens.of``; an in-memory emulator draws a fresh one). So a forged token
(``99``), a token changed by one character, one from another operation, another account or
another filter, is refused with a ValidationException, never read as an offset; and the token
says nothing a client could build on. The check runs before any handler, for every operation
whose input has a ``nextToken`` member, so no List operation can skip it.

AWS documents that a ``nextToken`` is opaque and that it expires; it does not document how long
it lives. Tokens here do not expire: a token stays as valid as the request it came from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.errors import validation
from reconciler.emulator.store import Store

__all__ = ["PageTokens", "Paging"]

_SECRET_KIND, _SECRET_ID = "emulator_secret", "page-tokens"
_MAC_BYTES = 16
_UNBOUND = ("nextToken", "maxResults")


class PageTokens:
    """Issues and reads page tokens with one secret.

    Args:
        secret: the HMAC key (32 random bytes).
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def of(cls, store: Store) -> PageTokens:
        """The workspace's tokens: the secret stored in ``store`` (created, and committed, on first use)."""
        with store.lock:
            record = store.get(_SECRET_KIND, _SECRET_ID)
            if record is None:
                record = {"secret": secrets.token_hex(32)}
                store.put(_SECRET_KIND, _SECRET_ID, record)
                store.commit()
        return cls(bytes.fromhex(record["secret"]))

    def paging(self, operation: str, account: str, params: dict[str, Any]) -> Paging:
        """The paging of one request: where it starts (its ``nextToken``, checked) and how to go on.

        Raises:
            ServiceError: ValidationException when the request's ``nextToken`` is not one this
                emulator issued for this operation, account and parameters.
        """
        binding = _binding(operation, account, params)
        token = params.get("nextToken")
        start = self._read(token, binding) if token else 0
        return Paging(self, binding, start)

    def issue(self, binding: bytes, position: int) -> str:
        """A token for ``position`` under ``binding``."""
        raw = position.to_bytes(4, "big") + self._mac(binding, position)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _read(self, token: str, binding: bytes) -> int:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 4 + _MAC_BYTES:
            position = int.from_bytes(raw[:4], "big")
            if hmac.compare_digest(raw[4:], self._mac(binding, position)):
                return position
        raise validation(
            "The nextToken is not valid: pass the nextToken of the previous page of this same request",
            field="nextToken",
        )

    def _mac(self, binding: bytes, position: int) -> bytes:
        message = binding + b"\0" + str(position).encode()
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


@dataclass(frozen=True)
class Paging:
    """One List request's paging: the position it starts at, and tokens for the pages after."""

    tokens: PageTokens
    binding: bytes
    start: int = 0

    def next_token(self, position: int) -> str:
        """The ``nextToken`` that makes the same request continue at ``position``."""
        return self.tokens.issue(self.binding, position)


def _binding(operation: str, account: str, params: dict[str, Any]) -> bytes:
    rest = {k: v for k, v in params.items() if k not in _UNBOUND}
    return json.dumps([operation, account, rest], sort_keys=True, separators=(",", ":"), default=str).encode()
