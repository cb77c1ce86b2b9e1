"""The query half of ``reconciler demo``: a protected query run on the local backend as AWS is used.

``run_protected_query`` is what a member does on AWS: with a boto3 ``cleanrooms`` client of the
querying member's account it finds the membership, ``StartProtectedQuery``, polls
``GetProtectedQuery`` until the query ends, and reads the result file the membership's result
configuration names (``s3://BUCKET/KEY`` lands under the local backend's ``results_root``). The
tables' local data was bound when the workspace opened (``workspace.bind_local_data``). A
refused query ends FAILED with the service's reason, and no rows.

This module neither plans nor applies; ``cli/demo.py`` runs it after plan and apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from reconciler.engine import Result
from reconciler.execution.retry import wait_for
from reconciler.spec import Stack

__all__ = ["QueryRun", "run_protected_query", "thresholds"]

#: Protected-query states after which nothing changes any more.
FINAL = frozenset({"SUCCESS", "FAILED", "CANCELLED", "TIMED_OUT"})


@dataclass(frozen=True)
class QueryRun:
    """How one protected query ended.

    Args:
        id: the protected query's id.
        status: its final status (``SUCCESS``, ``FAILED``...).
        result: the rows read back from the result file (None unless SUCCESS).
        location: where the service wrote them (``s3://bucket/key``).
        path: that location on the local disk.
        error: why it failed (the service's message), "" on success.
    """

    id: str
    status: str
    result: Result | None = None
    location: str = ""
    path: Path | None = None
    error: str = ""


def thresholds(stack: Stack) -> dict[str, int]:
    """Each configured table's smallest ``minimumIdentityCount`` (aggregation thresholds), by name."""
    out: dict[str, int] = {}
    for table in stack.configured_tables:
        if table.analysisRule is None:
            continue
        policy = table.analysisRule.policy.model_dump(exclude_none=True)
        counts = [t["minimumIdentityCount"] for t in policy.get("aggregationThresholds", [])]
        if counts:
            out[table.name] = min(counts)
    return out


def _membership_id(client: Any, collaboration: str) -> str:
    pages = client.get_paginator("list_memberships").paginate(status="ACTIVE")
    for page in pages:
        for summary in page["membershipSummaries"]:
            if summary["collaborationName"] == collaboration:
                return str(summary["id"])
    raise LookupError(f"no active membership in collaboration {collaboration!r}")


def _read_rows(path: Path) -> Result:
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv_auto"
    with duckdb.connect() as con:
        relation = con.sql(f"SELECT * FROM {reader}(?)", params=[str(path)])
        return Result(tuple(relation.columns), tuple(map(str, relation.types)), tuple(relation.fetchall()))


def run_protected_query(
    client: Any, results_root: Path, *, collaboration: str, sql: str, timeout: float = 30.0
) -> QueryRun:
    """StartProtectedQuery as the client's account, wait for it to end, read its result file.

    Args:
        client: a boto3 ``cleanrooms`` client of the querying member's account.
        results_root: where the local backend puts ``s3://BUCKET/KEY`` (``results_root/BUCKET/KEY``).
        collaboration: the collaboration's name.
        sql: the query text.
        timeout: seconds to wait for the query to end.

    Returns:
        The QueryRun (FAILED with the reason when the rules refuse the query).

    Raises:
        TerminalBackendError: the query did not end within ``timeout``.
    """
    membership = _membership_id(client, collaboration)
    try:
        started = client.start_protected_query(
            type="SQL", membershipIdentifier=membership, sqlParameters={"queryString": sql}
        )["protectedQuery"]
    except client.exceptions.ClientError as exc:
        return QueryRun("", "REFUSED", error=str(exc.response.get("Error", {}).get("Message", exc)))

    def poll() -> dict[str, Any]:
        answer = client.get_protected_query(
            membershipIdentifier=membership, protectedQueryIdentifier=started["id"]
        )
        return dict(answer["protectedQuery"])

    query = wait_for(
        poll,
        done=lambda q: q["status"] in FINAL,
        what=f"protected query {started['id']} to end",
        timeout=timeout,
        interval=0.05,
        max_interval=0.05,
    )
    if query["status"] != "SUCCESS":
        error = query.get("error", {}).get("message", "") or f"the query ended {query['status']}"
        return QueryRun(query["id"], query["status"], error=error)
    location = query["result"]["output"]["s3"]["location"]
    bucket, _, key = location.removeprefix("s3://").partition("/")
    path = results_root / bucket / key
    return QueryRun(query["id"], "SUCCESS", _read_rows(path), location, path)
