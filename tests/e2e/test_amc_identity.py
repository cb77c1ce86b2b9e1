"""The nine-account amc-multiparty example end to end on the local backend, with its ID mapping table.

validate -> plan (exit 2) -> apply -> plan (exit 0) -> populate the ID mapping table and query
through it with boto3 as the query submitter -> destroy -> plan (exit 2). Eight invitees are over
the default quota of five, which the local quota file raises as an AMC instance's account has it
raised; without the file CreateCollaboration is refused with ServiceQuotaExceededException.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cli_helpers import SPECS, run

from reconciler import emulator

STACK = SPECS / "amc-multiparty"
AMC_SERVICE, QUERY_SUBMITTER, RESULTS_RECEIVER = "259687042315", "826354719052", "937465820163"
QUOTAS = "quotas:\n  Members invited per collaboration: 10\n"


@pytest.fixture
def applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".reconciler").mkdir()
    (tmp_path / ".reconciler" / "quotas.yaml").write_text(QUOTAS)
    assert run(capsys, "validate", str(STACK))[0] == 0
    assert run(capsys, "plan", str(STACK), "--detailed-exitcode", "--out", "plans/amc.json")[0] == 2
    code, out, err = run(capsys, "apply", "plans/amc.json", "--auto-approve")
    assert code == 0, out + err
    return tmp_path


def test_nine_accounts_apply_replan_empty_and_destroy(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "plan", str(STACK), "--detailed-exitcode")
    assert code == 0, out
    with emulator.connect(applied / ".reconciler" / "local.duckdb") as emu:
        client = emu.client("cleanrooms", account_id=AMC_SERVICE)
        (collaboration,) = client.list_collaborations()["collaborationList"]
        members = client.list_members(collaborationIdentifier=collaboration["id"])["memberSummaries"]
        assert len(members) == 9
        shared = client.list_collaboration_id_namespace_associations(
            collaborationIdentifier=collaboration["id"]
        )
        types = sorted(a["inputReferenceProperties"]["idNamespaceType"] for a in shared[
            "collaborationIdNamespaceAssociationSummaries"])  # fmt: skip
        assert types == ["SOURCE", "TARGET"]
    code, out, err = run(capsys, "destroy", str(STACK), "--auto-approve", "--allow-destroy")
    assert code == 0, out + err
    assert run(capsys, "plan", str(STACK), "--detailed-exitcode")[0] == 2


def test_without_the_quota_file_the_collaboration_is_over_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "plan", str(STACK), "--out", "plans/amc.json")[0] == 0
    code, out, err = run(capsys, "apply", "plans/amc.json", "--auto-approve")
    assert code != 0
    assert "Members invited per collaboration (limit 5)" in out + err


def _membership(client: Any) -> str:
    (membership,) = client.list_memberships(status="ACTIVE")["membershipSummaries"]
    return str(membership["id"])


def test_a_query_through_the_id_mapping_table_gives_the_plain_duckdb_join(applied: Path) -> None:
    sql = (STACK / "id-mapping-queries" / "reach_through_id_mapping.sql").read_text()
    with emulator.connect(applied / ".reconciler" / "local.duckdb") as emu:
        amc = emu.client("cleanrooms", account_id=AMC_SERVICE)
        membership = _membership(amc)
        (table,) = amc.list_id_mapping_tables(membershipIdentifier=membership)["idMappingTableSummaries"]
        amc.populate_id_mapping_table(membershipIdentifier=membership, idMappingTableIdentifier=table["id"])
        submitter = emu.client("cleanrooms", account_id=QUERY_SUBMITTER)
        mine = _membership(submitter)
        query = submitter.start_protected_query(
            type="SQL",
            membershipIdentifier=mine,
            sqlParameters={"queryString": sql},
            resultConfiguration={"outputConfiguration": {"member": {"accountId": RESULTS_RECEIVER}}},
        )["protectedQuery"]
        deadline = time.monotonic() + 60
        while query["status"] not in ("SUCCESS", "FAILED") and time.monotonic() < deadline:
            time.sleep(0.05)
            query = submitter.get_protected_query(
                membershipIdentifier=mine, protectedQueryIdentifier=query["id"]
            )["protectedQuery"]
        assert query["status"] == "SUCCESS", query.get("error")
        assert query["result"]["output"]["memberList"] == [{"accountId": RESULTS_RECEIVER}]
        result = emu.results_root / "members" / RESULTS_RECEIVER / query["id"] / "result.csv"
        mapping = emu.results_root / ".id-mapping" / f"{table['id']}.csv"
    data = STACK / "data"
    # the mapping is the documented rule's answer: equal hashed emails, case and spaces aside
    pairs = duckdb.sql(
        f"SELECT DISTINCT a.user_id, z.user_id FROM '{data / 'advertiser_identities.csv'}' a "
        f"JOIN '{data / 'amazon_identities.csv'}' z "
        "ON lower(trim(a.email_sha256)) = lower(trim(z.email_sha256))"
    ).fetchall()
    assert sorted(
        duckdb.sql(f"SELECT * FROM read_csv_auto('{mapping}', all_varchar=true)").fetchall()
    ) == sorted(pairs)
    assert any(a != b for a, b in pairs)  # the ids really differ across the two namespaces
    plain = sql.replace("advertiser_to_amazon", f"read_csv_auto('{mapping}')")
    for name in ("conversions", "retail_media_impressions"):
        file = next(data.glob(f"{name}.*"))
        plain = plain.replace(f"JOIN {name} ", f"JOIN '{file}' ").replace(f"FROM {name} ", f"FROM '{file}' ")
    expected = sorted((c, round(v, 2)) for c, v in duckdb.sql(plain).fetchall())
    with Path(result).open() as handle:
        got = sorted(
            (r["campaign_id"], round(float(r["conversion_value"]), 2)) for r in csv.DictReader(handle)
        )
    assert got == expected and len(got) >= 3
