"""Helpers shared by the test areas that drive the ``reconciler`` command against the example stacks.

The root ``tests/conftest.py`` puts this folder on ``sys.path`` (pytest's default import mode), so
every area imports this module by its plain name, as it imports its own ``<area>_helpers``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import emulator
from reconciler.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "reconciler" / "examples"  # the example stacks (``./specs`` links here)
#: The example stacks: folders of ``specs/`` holding at least one YAML document.
STACKS = sorted(p.name for p in SPECS.iterdir() if p.is_dir() and any(p.glob("*.yaml")))

#: The Service Quotas increases an example stack needs to apply (its README says so): the local
#: backend reads them from ``.reconciler/quotas.yaml`` in the working directory.
EXAMPLE_QUOTAS = {"amc-multiparty": "quotas:\n  Members invited per collaboration: 10\n"}


def raise_quotas(name: str, workdir: Path) -> None:
    """Write the quota file example ``name`` needs (if any) into ``workdir/.reconciler``."""
    if name in EXAMPLE_QUOTAS:
        (workdir / ".reconciler").mkdir(exist_ok=True)
        (workdir / ".reconciler" / "quotas.yaml").write_text(EXAMPLE_QUOTAS[name])


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``reconciler ARGS`` in-process; return (exit code, stdout, stderr)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def edit_table_by_hand(workdir: Path, account_id: str, description: str) -> None:
    """Change the description of ``account_id``'s first configured table behind the reconciler's back.

    The edit goes straight to the local backend in ``workdir`` through boto3, as a person using
    the console would make it.
    """
    service = emulator.connect(workdir / ".reconciler" / "local.duckdb")
    try:
        client = service.client("cleanrooms", account_id=account_id)
        table = client.list_configured_tables()["configuredTableSummaries"][0]
        client.update_configured_table(configuredTableIdentifier=table["id"], description=description)
    finally:
        service.close()
