"""The ml-lookalike example end to end on the local backend: the CLI, then boto3 ``cleanroomsml`` clients.

validate -> plan (exit 2) -> apply -> plan (exit 0) -> the jobs (``reconciler ml``) -> destroy; the
ML input channel's record count is checked against plain DuckDB; changing a member's ML
abilities is a collaboration change request; Spark properties over the API's limits are
validate errors at their line.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from cli_helpers import SPECS, run
from e2e_helpers import copy_stack

from reconciler import emulator

STACK = SPECS / "ml-lookalike"
ADVERTISER, PUBLISHER = "111122223333", "444455556666"
ROLE = "arn:aws:iam::111122223333:role/CleanRoomsMLSeedRole"


@pytest.fixture
def applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "validate", str(STACK))[0] == 0
    assert run(capsys, "plan", str(STACK), "--detailed-exitcode", "--out", "plans/ml-lookalike.json")[0] == 2
    code, out, err = run(capsys, "apply", "plans/ml-lookalike.json", "--auto-approve")
    assert code == 0, out + err
    return tmp_path


def test_the_example_validates_plans_applies_replans_empty_and_destroys(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "plan", str(STACK), "--detailed-exitcode")
    assert code == 0, out
    assert "matches the spec (18 resources)" in out
    code, out, err = run(capsys, "destroy", str(STACK), "--auto-approve", "--allow-destroy")
    assert code == 0, out + err
    with emulator.connect(applied / ".reconciler" / "local.duckdb") as emu:
        pub = emu.client("cleanroomsml", account_id=PUBLISHER)
        adv = emu.client("cleanroomsml", account_id=ADVERTISER)
        assert pub.list_training_datasets()["trainingDatasets"] == []
        assert pub.list_configured_audience_models()["configuredAudienceModels"] == []
        assert adv.list_configured_model_algorithms()["configuredModelAlgorithms"] == []
    assert run(capsys, "plan", str(STACK), "--detailed-exitcode")[0] == 2


def test_the_channel_counts_its_query_rows_and_an_sql_seeded_audience_gets_metrics(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with emulator.connect(applied / ".reconciler" / "local.duckdb") as emu:
        adv = emu.client("cleanroomsml", account_id=ADVERTISER)
        cr = emu.client("cleanrooms", account_id=ADVERTISER)
        membership = cr.list_memberships(status="ACTIVE")["membershipSummaries"][0]["id"]
        (channel,) = adv.list_ml_input_channels(membershipIdentifier=membership)["mlInputChannelsList"]
        got = adv.get_ml_input_channel(
            membershipIdentifier=membership, mlInputChannelArn=channel["mlInputChannelArn"]
        )
        query = got["inputChannel"]["dataSource"]["protectedQueryInputParameters"]["sqlParameters"][
            "queryString"
        ]
        spark = got["inputChannel"]["dataSource"]["protectedQueryInputParameters"]["computeConfiguration"]
        assert spark["worker"]["properties"]["spark"]["spark.sql.shuffle.partitions"] == "8"
        plain = query.replace("FROM customers", f"FROM read_csv_auto('{STACK / 'data' / 'customers.csv'}')")
        with duckdb.connect() as db:
            expected = len(db.execute(plain).fetchall())
        assert got["status"] == "ACTIVE" and got["numberOfRecords"] == expected > 100
    # the job people run by hand, through the CLI
    code, out, err = run(
        capsys, "ml", "generate-audience", str(STACK), "--as", "advertiser", "--model", "readers-lookalike",
        "--collaboration", "lookalike-campaign", "--seed-sql", str(STACK / "queries" / "loyal_seed.sql"),
        "--role-arn", ROLE, "--spark", "spark.sql.shuffle.partitions=4", "--format", "json",
    )  # fmt: skip
    assert code == 0, out + err
    job = json.loads(out)
    assert job["status"] == "ACTIVE"
    scores = [m["score"] for m in job["metrics"]["relevanceMetrics"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True) and scores[0] > 0
    assert job["metrics"]["recallMetric"] > 0.2
    assert job["seedAudience"]["sqlComputeConfiguration"]["worker"]["properties"]["spark"] == {
        "spark.sql.shuffle.partitions": "4"
    }
    code, out, _ = run(
        capsys, "ml", "export-audience", str(STACK), "--as", "publisher",
        "--job", job["audienceGenerationJobArn"], "--size", "200", "--name", "top200",
    )  # fmt: skip
    assert code == 0 and "s3://publisher-audiences/lookalike/" in out
    location = out.strip().split(" -> ")[1].removeprefix("s3://").split("/")
    exported = (applied / ".reconciler" / "results").joinpath(*location).read_text().splitlines()
    assert len(exported) == 200
    code, out, _ = run(capsys, "ml", "channels", str(STACK), "--as", "advertiser")
    assert code == 0 and f"{expected} records" in out


def test_a_seed_too_small_fails_with_its_reason(applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed = applied / "few.sql"
    seed.write_text("SELECT user_id FROM customers WHERE segment = 'loyal' AND lifetime_value > 880")
    code, out, _ = run(
        capsys, "ml", "generate-audience", str(STACK), "--as", "advertiser", "--model", "readers-lookalike",
        "--collaboration", "lookalike-campaign", "--seed-sql", str(seed), "--role-arn", ROLE, "--name", "few",
    )  # fmt: skip
    assert code == 1
    assert "CREATE_FAILED" in out and "at least 100" in out


def test_changing_ml_abilities_plans_a_change_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    stack = copy_stack("ml-lookalike", tmp_path)
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    collaboration = stack / "collaboration.yaml"
    collaboration.write_text(
        collaboration.read_text().replace(
            "customMLMemberAbilities: [CAN_RECEIVE_INFERENCE_OUTPUT]",
            "customMLMemberAbilities: [CAN_RECEIVE_MODEL_OUTPUT]",
        )
    )
    code, out, _ = run(
        capsys,
        "plan",
        str(stack),
        "--detailed-exitcode",
        "--format",
        "json",
        "--out",
        "plans/ml-lookalike.json",
    )
    assert code == 2
    plan = json.loads(out)
    (change,) = [c for c in plan["changes"] if c["action"] != "no-op"]
    assert change["address"] == "member.lookalike-campaign.advertiser" and not change["blocked"]
    assert (
        "grant CAN_RECEIVE_MODEL_OUTPUT" in change["reason"]
        and "revoke CAN_RECEIVE_INFERENCE_OUTPUT" in change["reason"]
    )
    (step,) = (
        [s for group in plan["steps"] for s in group] if isinstance(plan["steps"][0], list) else plan["steps"]
    )
    assert step["operation"] == "CreateCollaborationChangeRequest"
    assert change["impact"] == "weakens"
    assert run(capsys, "apply", "plans/ml-lookalike.json", "--auto-approve")[0] == 0
    assert run(capsys, "plan", str(stack), "--detailed-exitcode")[0] == 0
    with emulator.connect(tmp_path / ".reconciler" / "local.duckdb") as emu:
        cr = emu.client("cleanrooms", account_id=ADVERTISER)
        collab = cr.list_collaborations()["collaborationList"][0]["id"]
        requests = cr.list_collaboration_change_requests(collaborationIdentifier=collab)[
            "collaborationChangeRequestSummaries"
        ]
        assert {t for r in requests for c in r["changes"] for t in c["types"]} == {
            "GRANT_CAN_RECEIVE_MODEL_OUTPUT",
            "REVOKE_CAN_RECEIVE_INFERENCE_OUTPUT",
        }


def test_spark_properties_over_the_limits_are_validate_errors_at_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("ml-lookalike", tmp_path)
    channel = stack / "propensity.yaml"
    text = channel.read_text()
    extra = "".join(f'              extra.{i}: "v"\n' for i in range(49))
    anchor = '              spark.sql.adaptive.enabled: "true"\n'
    channel.write_text(text.replace(anchor, anchor + extra))
    code, out, err = run(capsys, "validate", str(stack))
    line = text.splitlines().index("            spark:") + 1
    assert code == 1
    assert f"propensity.yaml:{line}:" in out + err and "has 51 entries; AWS allows 0 to 50" in out + err
    assert "SparkProperties" in out + err  # the limit's name in the model
    channel.write_text(text.replace(anchor, anchor + f'              {"k" * 201}: "{"v" * 501}"\n'))
    code, out, err = run(capsys, "validate", str(stack))
    assert code == 1
    assert f"propensity.yaml:{line + 3}:" in out + err  # after the two properties the example has
    assert "is 201 characters long; AWS allows 1 to 200" in out + err
    assert "is 501 characters long; AWS allows 0 to 500" in out + err
    assert "Traceback" not in out + err


def test_a_boto3_client_runs_an_sql_seeded_audience_job_on_the_example_to_a_terminal_status(
    applied: Path,
) -> None:
    with emulator.connect(applied / ".reconciler" / "local.duckdb") as emu:
        adv = emu.client("cleanroomsml", account_id=ADVERTISER)
        pub = emu.client("cleanroomsml", account_id=PUBLISHER)
        collab = emu.client("cleanrooms", account_id=ADVERTISER).list_collaborations()["collaborationList"][0]
        (model,) = pub.list_configured_audience_models()["configuredAudienceModels"]
        arn = adv.start_audience_generation_job(
            name="by-boto3",
            configuredAudienceModelArn=model["configuredAudienceModelArn"],
            collaborationId=collab["id"],
            seedAudience={
                "roleArn": ROLE,
                "sqlParameters": {"queryString": (STACK / "queries" / "loyal_seed.sql").read_text()},
                "sqlComputeConfiguration": {
                    "worker": {
                        "type": "CR.1X",
                        "number": 2,
                        "properties": {"spark": {"spark.sql.shuffle.partitions": "4"}},
                    }
                },
            },
        )["audienceGenerationJobArn"]
        statuses = []
        for _ in range(20):  # the emulator finishes on the first read; AWS would take minutes
            job = adv.get_audience_generation_job(audienceGenerationJobArn=arn)
            statuses.append(job["status"])
            if job["status"] in {"ACTIVE", "CREATE_FAILED"}:
                break
        assert statuses[-1] == "ACTIVE", job.get("statusDetails")
        sizes = [m["audienceSize"]["value"] for m in job["metrics"]["relevanceMetrics"]]
        assert sizes == model_bins(pub, model["configuredAudienceModelArn"])
        assert all(-1 <= m["score"] <= 1 for m in job["metrics"]["relevanceMetrics"])
        owner_view = pub.get_audience_generation_job(audienceGenerationJobArn=arn)
        assert owner_view["metrics"] == job["metrics"] and "seedAudience" not in owner_view


def model_bins(client: object, arn: str) -> list[int]:
    got = client.get_configured_audience_model(configuredAudienceModelArn=arn)  # type: ignore[attr-defined]
    return list(got["audienceSizeConfig"]["audienceSizeBins"])


@pytest.mark.parametrize(
    ("args", "said", "opens"),
    [
        (
            ["--seed-sql", str(STACK / "queries" / "loyal_seed.sql")],
            'no configured audience model "readers',
            True,
        ),
        ([], "give exactly one seed", False),
        (["--seed-s3", "s3://seeds/a.jsonl", "--spark", "no-equals-sign"], "is not KEY=VALUE", False),
    ],
    ids=["not-applied", "no-seed", "bad-spark-property"],
)
def test_bad_ml_job_arguments_are_clear_errors(
    args: list[str],
    said: str,
    opens: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys, "ml", "generate-audience", str(STACK), "--as", "advertiser", "--model", "readers-lookalike",
        "--collaboration", "lookalike-campaign", "--role-arn", ROLE, *args,
    )  # fmt: skip
    assert code != 0 and said in out + err and "Traceback" not in out + err
    if not opens:  # refused before the workspace opened: nothing written
        assert list(tmp_path.iterdir()) == []
