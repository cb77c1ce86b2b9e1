"""Who is calling: the account a request's SigV4 access key id stands for.

The emulator has no IAM: it takes the access key id at its word, so several members can act
against one emulator just by signing with different keys. The mapping, in order:

- ``111122223333`` (12 digits): that account. This is what the README tells AWS CLI, SDK and
  Terraform users to set as ``AWS_ACCESS_KEY_ID``; any secret key is accepted.
- ``LOCAL111122223333``: that account (what ``Emulator.client`` signs with in process).
- anything else (``AKIA...``, ``test``): the emulator's ``default_account`` when one is set
  (``reconciler serve --default-account``), else the request is refused with
  ``UnrecognizedClientException``. Refusing is the default so real credentials left in a shell
  never act silently as some account.

Signatures are not verified (there are no secret keys to verify them with); the credential
scope's region is the region the request acts in.
"""

from __future__ import annotations

import re

__all__ = ["ACCOUNT_ID", "account_of"]

#: An AWS account id.
ACCOUNT_ID = re.compile(r"\d{12}")
_LOCAL = re.compile(r"LOCAL(\d{12})")


def account_of(access_key_id: str, default_account: str | None = None) -> str | None:
    """The account ``access_key_id`` acts as, or None when it names none and there is no default.

    >>> account_of("111122223333"), account_of("LOCAL444455556666"), account_of("AKIAEXAMPLE")
    ('111122223333', '444455556666', None)
    >>> account_of("AKIAEXAMPLE", "123456789012")
    '123456789012'
    """
    if ACCOUNT_ID.fullmatch(access_key_id):
        return access_key_id
    local = _LOCAL.fullmatch(access_key_id)
    if local is not None:
        return local.group(1)
    return default_account
