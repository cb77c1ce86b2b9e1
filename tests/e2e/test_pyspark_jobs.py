"""A PySpark analysis template, applied from the spec, runs as a protected job on local Spark.

The stack (``pyspark_stack``) is applied with the CLI; the job is started through a boto3
``cleanrooms`` client of the emulator, as the analyst's own script would, and polled until it
ends. Its result must land where the job's result configuration says (the analyst's
``defaultJobResultConfiguration``) and equal the same aggregation done by hand on the data.
"""

from __future__ import annotations

import csv
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run

from reconciler import emulator

ANALYST, SHOP = "111122223333", "444455556666"
STACK = Path(__file__).parent / "pyspark_stack"


@pytest.fixture
def applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)
    shutil.copytree(STACK, tmp_path / "stack")
    code, out, err = run(capsys, "apply", "stack", "--auto-approve")
    assert code == 0, out + err
    code, out, err = run(capsys, "plan", "stack", "--detailed-exitcode")
    assert code == 0, out + err  # applied: nothing left to change
    return tmp_path


def _finished(client: Any, membership: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while True:
        job = client.get_protected_job(membershipIdentifier=membership, protectedJobIdentifier=job_id)
        if job["protectedJob"]["status"] not in {"SUBMITTED", "STARTED"} or time.monotonic() > deadline:
            return job["protectedJob"]  # type: ignore[no-any-return]
        time.sleep(0.1)


def _session(root: Path) -> tuple[Any, Any, str, str]:
    service = emulator.connect(root / ".reconciler" / "local.duckdb")
    client = service.client("cleanrooms", account_id=ANALYST, region="us-east-1")
    [membership] = client.list_memberships(status="ACTIVE")["membershipSummaries"]
    [template] = client.list_analysis_templates(membershipIdentifier=membership["id"])[
        "analysisTemplateSummaries"
    ]
    return service, client, membership["id"], template["arn"]


@pytest.mark.spark
def test_a_pyspark_template_runs_as_a_job_and_its_result_lands_where_configured(applied: Path) -> None:
    service, client, membership, template = _session(applied)
    try:
        started = client.start_protected_job(
            type="PYSPARK",
            membershipIdentifier=membership,
            jobParameters={"analysisTemplateArn": template, "parameters": {"min_amount": "3"}},
        )["protectedJob"]
        assert started["status"] == "SUBMITTED"
        job = _finished(client, membership, started["id"])
        assert job["status"] == "SUCCESS", job.get("error")
        location = job["result"]["output"]["s3"]["location"]
        assert location == f"s3://analyst-job-results/spend/{started['id']}/"
        produced = service.results_root / "analyst-job-results" / "spend" / started["id"] / "spend.csv"
        rows = list(csv.DictReader(produced.read_text().splitlines()))
        summaries = client.list_protected_jobs(membershipIdentifier=membership)["protectedJobs"]
    finally:
        service.close()
    expected: dict[str, float] = defaultdict(float)
    for row in csv.DictReader((STACK / "data" / "purchases.csv").read_text().splitlines()):
        if float(row["amount"]) >= 3:
            expected[row["region"]] += float(row["amount"])
    assert {r["region"]: float(r["total"]) for r in rows} == expected
    assert [s["id"] for s in summaries] == [started["id"]]
    receivers = summaries[0]["receiverConfigurations"][0]["configurationDetails"]
    assert receivers["directAnalysisConfigurationDetails"]["receiverAccountIds"] == [ANALYST]


def test_a_job_for_another_receiver_than_the_template_creator_fails_and_writes_nothing(applied: Path) -> None:
    service, client, membership, template = _session(applied)
    try:
        started = client.start_protected_job(
            type="PYSPARK",
            membershipIdentifier=membership,
            jobParameters={"analysisTemplateArn": template},
            resultConfiguration={"outputConfiguration": {"member": {"accountId": SHOP}}},
        )["protectedJob"]
        job = _finished(client, membership, started["id"])
        written = list((service.results_root / "analyst-job-results").rglob("*.csv"))
    finally:
        service.close()
    assert job["status"] == "FAILED"
    assert "receive results" in job["error"]["message"]
    assert written == []


def test_a_job_whose_script_changed_after_the_template_was_created_fails(applied: Path) -> None:
    service, client, membership, template = _session(applied)
    try:
        script = service.results_root / "analyst-code" / "spark" / "spend_by_region.py"
        script.write_text(script.read_text() + "\n# changed behind the template's back\n")
        started = client.start_protected_job(
            type="PYSPARK", membershipIdentifier=membership, jobParameters={"analysisTemplateArn": template}
        )["protectedJob"]
        job = _finished(client, membership, started["id"])
    finally:
        service.close()
    assert job["status"] == "FAILED"
    assert "modified or removed" in job["error"]["message"]


def test_a_submitted_job_can_be_cancelled_and_then_never_runs(applied: Path) -> None:
    service, client, membership, template = _session(applied)
    try:
        started = client.start_protected_job(
            type="PYSPARK", membershipIdentifier=membership, jobParameters={"analysisTemplateArn": template}
        )["protectedJob"]
        cancelled = client.update_protected_job(
            membershipIdentifier=membership, protectedJobIdentifier=started["id"], targetStatus="CANCELLED"
        )["protectedJob"]
        job = _finished(client, membership, started["id"])
        written = list((service.results_root / "analyst-job-results").rglob("*.csv"))
        with pytest.raises(client.exceptions.ConflictException):
            client.update_protected_job(
                membershipIdentifier=membership,
                protectedJobIdentifier=started["id"],
                targetStatus="CANCELLED",
            )
    finally:
        service.close()
    assert cancelled["status"] == job["status"] == "CANCELLED"
    assert written == []


def test_a_member_without_the_run_job_ability_cannot_start_a_job(applied: Path) -> None:
    service, _, _, template = _session(applied)
    try:
        shop = service.client("cleanrooms", account_id=SHOP, region="us-east-1")
        [membership] = shop.list_memberships(status="ACTIVE")["membershipSummaries"]
        with pytest.raises(shop.exceptions.AccessDeniedException, match="CAN_RUN_JOB"):
            shop.start_protected_job(
                type="PYSPARK",
                membershipIdentifier=membership["id"],
                jobParameters={"analysisTemplateArn": template},
            )
    finally:
        service.close()


def test_an_edited_script_replaces_the_template(applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = applied / "stack" / "jobs" / "spend_by_region.py"
    script.write_text(script.read_text() + "\n# a change the collaborators must review again\n")
    code, out, err = run(capsys, "plan", "stack", "--detailed-exitcode")
    assert code == 2, out + err
    assert "analysis_template.pyspark-jobs.analyst.spend-by-region (replace" in out
    assert "sourceMetadata.artifacts.entryPointHash.sha256" in out
