"""A plain local ``apply`` binds the tables' ``localData``, so members can query as on AWS afterwards.

The protected query goes through a boto3 ``cleanrooms`` client of the emulator file the CLI used,
as a member's own script would: find the membership, StartProtectedQuery, GetProtectedQuery,
read the result file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from cli_helpers import run
from e2e_helpers import copy_stack

from reconciler import emulator
from reconciler.spec import load_stack

RETAILER = "123456789012"


def test_protected_query_after_a_plain_apply_finds_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)
    stack = copy_stack("retail-adtech", tmp_path)
    code, out, err = run(capsys, "apply", "specs/retail-adtech", "--auto-approve")
    assert code == 0, out + err
    sql = (stack / "queries" / "campaign_reach.sql").read_text()

    service = emulator.connect(tmp_path / ".reconciler" / "local.duckdb")
    try:
        client = service.client("cleanrooms", account_id=RETAILER, region="us-east-1")
        [membership] = client.list_memberships(status="ACTIVE")["membershipSummaries"]
        started = client.start_protected_query(
            type="SQL", membershipIdentifier=membership["id"], sqlParameters={"queryString": sql}
        )["protectedQuery"]
        deadline = time.monotonic() + 30
        while True:
            query = client.get_protected_query(
                membershipIdentifier=membership["id"], protectedQueryIdentifier=started["id"]
            )["protectedQuery"]
            if query["status"] not in {"SUBMITTED", "STARTED"} or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert query["status"] == "SUCCESS", query.get("error")
        bucket, _, key = query["result"]["output"]["s3"]["location"].removeprefix("s3://").partition("/")
        rows = (service.results_root / bucket / key).read_text().splitlines()
    finally:
        service.close()
    assert rows[0].replace('"', "") == "campaign_name,customers"
    assert len(rows) > 1


def test_opening_the_workspace_again_binds_nothing_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "plan", "specs/retail-adtech")[0] == 0
    database = tmp_path / ".reconciler" / "local.duckdb"
    service = emulator.connect(database)
    try:
        entry = service.catalog.lookup(RETAILER, *_glue_name(tmp_path))
    finally:
        service.close()
    assert entry is not None and entry.path.name.endswith((".csv", ".parquet"))
    before = database.stat().st_mtime_ns, database.read_bytes()
    assert run(capsys, "plan", "specs/retail-adtech")[0] == 0
    assert (database.stat().st_mtime_ns, database.read_bytes()) == before


def _glue_name(root: Path) -> tuple[str, str]:
    table = next(
        t for t in load_stack(root / "specs" / "retail-adtech").configured_tables if t.owner == "retailer"
    )
    assert table.tableReference.glue is not None
    return table.tableReference.glue.databaseName, table.tableReference.glue.tableName


def _add_column(stack: Path) -> None:
    """A new column in the purchases CSV (same modification second), and in the table's allowedColumns."""
    data = stack / "data" / "purchases.csv"
    stat = data.stat()
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0] + ",channel", *(line + ",web" for line in lines[1:])]) + "\n")
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # a copy that kept its time: the hash decides
    spec = stack / "purchases.yaml"
    spec.write_text(spec.read_text().replace("store_region]", "store_region, channel]", 1))


def test_a_column_added_to_the_data_is_in_the_schema_at_the_next_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    _add_column(stack)
    assert run(capsys, "validate", str(stack))[0] == 0
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0, out + err
    assert run(capsys, "plan", str(stack), "--detailed-exitcode")[0] == 0


def test_state_rebuild_reads_the_data_files_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    _add_column(stack)
    assert run(capsys, "state", "rebuild", str(stack))[0] == 0
    service = emulator.connect(tmp_path / ".reconciler" / "local.duckdb")
    try:
        tables = load_stack(stack).configured_tables
        glue = next(t for t in tables if t.name == "purchases").tableReference.glue
        assert glue is not None
        entry = service.catalog.lookup(RETAILER, glue.databaseName, glue.tableName)
        assert entry is not None and "channel" in entry.column_types
    finally:
        service.close()
