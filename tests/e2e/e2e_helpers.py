"""Helpers for the end-to-end tests: copy a stack into a temporary directory, look at the emulator.

Running the CLI (``run``) and the example stacks (``SPECS``, ``STACKS``) are in ``tests/cli_helpers.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from cli_helpers import SPECS

from reconciler import emulator
from reconciler.spec import load_stack
from reconciler.workflow import accounts_of


def copy_stack(name: str, into: Path) -> Path:
    """Copy an example stack into ``into/specs/<name>`` so a test may edit it."""
    target = into / "specs" / name
    shutil.copytree(SPECS / name, target)
    return target


def live_resources(workdir: Path, stack: Path) -> dict[str, list[Any]]:
    """Everything the local backend holds for the stack's accounts, through boto3 List calls."""
    service = emulator.connect(workdir / ".reconciler" / "local.duckdb")
    found: dict[str, list[Any]] = {"collaborations": [], "memberships": [], "configured_tables": []}
    try:
        for account in accounts_of(load_stack(stack)):
            client = service.client("cleanrooms", account_id=account.account_id, region=account.region)
            found["collaborations"] += [
                c
                for c in client.list_collaborations()["collaborationList"]
                if c["creatorAccountId"] == account.account_id
            ]
            found["memberships"] += client.list_memberships(status="ACTIVE")["membershipSummaries"]
            found["configured_tables"] += client.list_configured_tables()["configuredTableSummaries"]
    finally:
        close = getattr(service, "close", None)
        if close is not None:
            close()
    return found
