"""Result locations through boto3 (issue 11, class 7): a keyPrefix is an S3 key, never a local path.

Whatever ``keyPrefix`` holds (``..``, ``./``, a leading ``/``, repeated slashes), the result file
lands under the emulator's results root, holds the thresholded rows, and the API reports the S3
location AWS would (the key keeps its segments as written). Nothing is created outside the root.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest
from botocore.exceptions import ClientError
from contract_helpers import OWNER, PARTNER, associate, create_table, error_of, finished

from reconciler import emulator

# region a has 4 people, b 3, c 1; the threshold is 3 distinct people.
ROWS = [(f"p{i}", "a", 1.0) for i in range(4)] + [(f"p{i}", "b", 2.0) for i in (4, 5, 6)] + [("p7", "c", 9.0)]
SQL = "SELECT region, COUNT(*) AS n FROM purchases GROUP BY region"
EXPECTED = [("a", "4"), ("b", "3")]


def _policy() -> dict[str, Any]:
    return {
        "v1": {
            "custom": {
                "allowedAnalyses": ["ANY_QUERY"],
                "allowedAnalysisProviders": [PARTNER],
                "disallowedOutputColumns": ["person"],
                "aggregationThresholds": [
                    {
                        "identityColumns": ["person"],
                        "minimumIdentityCount": 3,
                        "type": "COUNT_DISTINCT",
                        "allowedAggregateExpressionType": "COLUMNS_ONLY",
                    }
                ],
            }
        }
    }


@pytest.fixture
def membership(emu: emulator.Emulator, owner: Any, partner: Any, tmp_path: Path) -> str:
    data = tmp_path / "purchases.parquet"
    con = duckdb.connect()
    con.execute("CREATE TABLE p (person VARCHAR, region VARCHAR, amount DOUBLE)")
    con.executemany("INSERT INTO p VALUES (?, ?, ?)", ROWS)
    con.execute(f"COPY p TO '{data}' (FORMAT parquet)")
    con.close()
    collaboration = owner.create_collaboration(
        members=[
            {
                "accountId": PARTNER,
                "memberAbilities": ["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
                "displayName": "p",
            }
        ],
        name="paths",
        creatorMemberAbilities=[],
        creatorDisplayName="owner",
        queryLogStatus="DISABLED",
        analyticsEngine="SPARK",
    )["collaboration"]
    mo = owner.create_membership(collaborationIdentifier=collaboration["id"], queryLogStatus="DISABLED")
    mp = partner.create_membership(collaborationIdentifier=collaboration["id"], queryLogStatus="DISABLED")
    emu.catalog.register(OWNER, "db", "purchases", data)
    table = create_table(owner, "purchases", ["person", "region", "amount"], database="db")
    owner.create_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"], analysisRuleType="CUSTOM", analysisRulePolicy=_policy()
    )
    associate(owner, OWNER, mo["membership"]["id"], table["id"], name="purchases")
    return str(mp["membership"]["id"])


def _run(
    partner: Any, membership: str, key_prefix: str, fmt: str = "CSV", bucket: str = "results"
) -> dict[str, Any]:
    s3: dict[str, Any] = {"resultFormat": fmt, "bucket": bucket, "keyPrefix": key_prefix}
    started = partner.start_protected_query(
        type="SQL",
        membershipIdentifier=membership,
        sqlParameters={"queryString": SQL},
        resultConfiguration={"outputConfiguration": {"s3": s3}},
    )["protectedQuery"]
    return finished(partner, membership, started["id"])


def _check_landed(emu: emulator.Emulator, query: dict[str, Any], key_prefix: str) -> Path:
    assert query["status"] == "SUCCESS", query.get("error")
    location = query["result"]["output"]["s3"]["location"]
    qid = query["id"]
    assert location.startswith("s3://results/")
    key = location.removeprefix("s3://results/")
    assert key.endswith(f"{qid}/result.csv")
    # the key keeps the prefix's segments as written: S3 keys are names, '..' is not resolved
    written = [s for s in key_prefix.split("/") if s]
    assert [s for s in key.split("/") if s][: len(written)] == written, (key_prefix, key)
    files = [p for p in emu.results_root.rglob("result.csv") if qid in p.parts]
    assert len(files) == 1, files
    (path,) = files
    assert path.resolve().is_relative_to(emu.results_root.resolve())
    with path.open() as handle:
        assert sorted((r["region"], r["n"]) for r in csv.DictReader(handle)) == EXPECTED
    naive = Path(os.path.normpath(f"{emu.results_root}/results/{key_prefix}/{qid}"))
    if not naive.resolve().is_relative_to(emu.results_root.resolve()):
        assert not naive.exists(), f"{naive} was written outside the results root"
    return path


@pytest.mark.parametrize(
    "key_prefix",
    [
        "..",
        "../",
        "../../escaped",
        "../../../../../../../../tmp/escaped",
        "runs/../../..",
        "x/..",
        "./a/./b/",
        "a/./../b",
    ],
)
def test_dot_segments_stay_under_the_results_root(
    emu: emulator.Emulator, partner: Any, membership: str, key_prefix: str
) -> None:
    query = _run(partner, membership, key_prefix)
    _check_landed(emu, query, key_prefix)


def test_repeated_slashes_keep_the_reported_key(
    emu: emulator.Emulator, partner: Any, membership: str
) -> None:
    query = _run(partner, membership, "a//b///c/")
    path = _check_landed(emu, query, "a//b///c/")
    assert query["result"]["output"]["s3"]["location"] == f"s3://results/a//b///c/{query['id']}/result.csv"
    assert path.resolve().is_relative_to((emu.results_root / "results").resolve())


def test_a_leading_slash_is_not_an_absolute_path(
    emu: emulator.Emulator, partner: Any, membership: str
) -> None:
    query = _run(partner, membership, "/etc/cron.d/")
    _check_landed(emu, query, "/etc/cron.d/")
    assert not Path("/etc/cron.d", query["id"]).exists()


def test_parquet_results_with_traversal_stay_under_the_root(
    emu: emulator.Emulator, partner: Any, membership: str
) -> None:
    query = _run(partner, membership, "../../p", fmt="PARQUET")
    assert query["status"] == "SUCCESS", query.get("error")
    key = query["result"]["output"]["s3"]["location"].removeprefix("s3://results/")
    assert key == f"../../p/{query['id']}/result.parquet"
    (path,) = [p for p in emu.results_root.rglob("result.parquet") if query["id"] in p.parts]
    assert path.resolve().is_relative_to(emu.results_root.resolve())
    assert duckdb.sql(f"SELECT region, n FROM '{path}' ORDER BY region").fetchall() == [("a", 4), ("b", 3)]


@pytest.mark.parametrize("bucket", ["...", "a/../..", "/etc", "Results", "a..b"])
def test_bucket_names_that_are_not_dns_names_are_refused(partner: Any, membership: str, bucket: str) -> None:
    error = error_of(lambda: _run(partner, membership, "ok/", bucket=bucket))
    assert error["Error"]["Code"] == "ValidationException"


def test_key_prefix_characters_outside_the_pattern_are_refused(partner: Any, membership: str) -> None:
    for prefix in ("a\\..\\..", "a b", "%2E%2E/", "a\x00b"):
        error = error_of(lambda prefix=prefix: _run(partner, membership, prefix))
        assert error["Error"]["Code"] == "ValidationException", prefix


def test_hole_a_long_key_segment_is_an_internal_error(
    emu: emulator.Emulator, partner: Any, membership: str
) -> None:
    """HOLE: a 300-character segment is a valid keyPrefix (pattern ``[\\w!.=*/-]*``, at most 512) and a
    valid S3 key, but the emulator maps it to one file name longer than the file system allows: the
    query answers InternalServerException (with the local results path in the message) instead of
    a result or a modeled error."""
    prefix = "a" * 300 + "/"
    try:
        query = _run(partner, membership, prefix)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        assert code == "ValidationException", f"{code}: {exc.response['Error'].get('Message', '')[:160]}"
        assert str(emu.results_root) not in str(exc)
        return
    if query["status"] == "FAILED":
        assert (
            query["error"]["code"] != "INTERNAL_ERROR"
            and str(emu.results_root) not in query["error"]["message"]
        )
        return
    _check_landed(emu, query, prefix)


def test_hole_non_ascii_key_prefix_is_accepted(partner: Any, membership: str) -> None:
    """HOLE (fidelity): AWS patterns are ECMA-262 / Java regexes, where ``\\w`` is ``[A-Za-z0-9_]``; the
    emulator matches them with Python's Unicode ``\\w``, so ``résumé/`` passes here and is refused by
    AWS with a ValidationException."""
    error = error_of(lambda: _run(partner, membership, "résumé/"))
    assert error["Error"]["Code"] == "ValidationException"
