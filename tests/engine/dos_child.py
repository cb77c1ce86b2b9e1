"""Run one denial-of-service case in this (child) process and print what happened as one JSON line.

``python dos_child.py engine CASE_ID DATA_DIR``: ``check`` then, if allowed, ``execute`` through the
engine's public API. ``python dos_child.py e2e CASE_ID DATA_DIR``: the same query through the
emulator with boto3 (StartProtectedQuery, then GetProtectedQuery).

The last stdout line is ``DOS-RESULT {json}``: ``outcome`` is ``answered``, ``refused`` (a
``QueryRejected``), ``data_error`` (a ``DataError``), ``start_error`` / ``finished`` (e2e) or
``crash`` (anything else: not a modeled error), with ``seconds`` (the work itself, after imports
and setup), the message and, where known, the reason or codes. The parent measures peak memory
(``wait4``) and kills this process past the hard caps; an address-space limit set here keeps a
runaway allocation from taking the machine down before the parent notices.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: Address space cap (bytes). Well above the 1.5 GB RSS budget plus DuckDB's reserved virtual memory,
#: so the engine's own limits, not this one, must be what stops a blow-up.
ADDRESS_SPACE = 4 << 30
MARKER = "DOS-RESULT "


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _report(payload: dict[str, Any]) -> None:
    sys.stdout.write(MARKER + json.dumps(payload) + "\n")
    sys.stdout.flush()


def _crash(exc: BaseException) -> dict[str, Any]:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return {"outcome": "crash", "exception": type(exc).__name__, "message": text[:2000]}


def run_engine(case_id: str, data_dir: Path) -> dict[str, Any]:
    import dos_cases

    from reconciler.engine import Collaboration, DataError, Request, Table, check, execute, parse_policy
    from reconciler.errors import QueryRejected

    case = dos_cases.BY_ID[case_id]
    columns = dict(dos_cases.COLUMNS)
    tables = {
        name: Table(
            name,
            owner,
            columns,
            parse_policy(dos_cases.policy(case.rule), columns=list(columns)),
            data=str(data_dir / f"{name}.parquet"),
        )
        for name, owner in (("t", dos_cases.QUERIER), ("u", dos_cases.PARTNER))
    }
    abilities = {
        dos_cases.QUERIER: frozenset({"CAN_QUERY", "CAN_RECEIVE_RESULTS"}),
        dos_cases.PARTNER: frozenset({"CAN_RECEIVE_RESULTS"}),
    }
    collab = Collaboration(case.engine, abilities, tables)
    sql = case.build()
    out: dict[str, Any] = {"chars": len(sql)}
    start = time.perf_counter()
    stage = "check"
    try:
        prepared = check(Request(dos_cases.QUERIER, sql), collab)
        out["check_seconds"] = time.perf_counter() - start
        stage = "execute"
        result = execute(prepared)
        out.update(outcome="answered", rows=len(result.rows), columns=len(result.columns))
    except QueryRejected as exc:
        verdict = exc.verdict
        out.update(
            outcome="refused",
            reason=str(verdict.reason) if verdict is not None else None,
            message=str(exc)[:2000],
        )
    except DataError as exc:
        out.update(outcome="data_error", message=str(exc)[:2000])
    except BaseException as exc:  # noqa: BLE001 - anything else is exactly what the suite looks for
        out.update(_crash(exc))
    out["stage"] = stage
    out["seconds"] = time.perf_counter() - start
    out.setdefault("check_seconds", out["seconds"])
    return out


def run_e2e(case_id: str, data_dir: Path) -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parent))
    import dos_cases
    from botocore.exceptions import ClientError
    from contract_helpers import NO_RETRY, associate, create_table, finished  # type: ignore[import-not-found]

    from reconciler import emulator

    case = dos_cases.BY_ID[case_id]
    sql = case.build()
    out: dict[str, Any] = {"chars": len(sql)}
    with emulator.connect() as emu:
        querier = emu.client("cleanrooms", account_id=dos_cases.QUERIER, config=NO_RETRY)
        partner = emu.client("cleanrooms", account_id=dos_cases.PARTNER, config=NO_RETRY)
        collaboration = querier.create_collaboration(
            members=[{"accountId": dos_cases.PARTNER, "memberAbilities": [], "displayName": "partner"}],
            name="dos",
            creatorMemberAbilities=["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
            creatorDisplayName="querier",
            queryLogStatus="DISABLED",
            analyticsEngine=case.engine,
        )["collaboration"]
        memberships = {}
        for client, account in ((querier, dos_cases.QUERIER), (partner, dos_cases.PARTNER)):
            memberships[account] = client.create_membership(
                collaborationIdentifier=collaboration["id"], queryLogStatus="DISABLED"
            )["membership"]["id"]
        for client, account, name in ((querier, dos_cases.QUERIER, "t"), (partner, dos_cases.PARTNER, "u")):
            emu.catalog.register(account, "db", name, data_dir / f"{name}.parquet")
            table = create_table(client, name, list(dos_cases.COLUMNS), database="db")
            client.create_configured_table_analysis_rule(
                configuredTableIdentifier=table["id"],
                analysisRuleType=case.rule.upper() if case.rule == "aggregation" else "CUSTOM",
                analysisRulePolicy={"v1": dos_cases.policy(case.rule)},
            )
            associate(client, account, memberships[account], table["id"], name=name)
        membership = memberships[dos_cases.QUERIER]
        start = time.perf_counter()
        try:
            started = querier.start_protected_query(
                type="SQL",
                membershipIdentifier=membership,
                sqlParameters={"queryString": sql},
                resultConfiguration={
                    "outputConfiguration": {
                        "s3": {"resultFormat": "CSV", "bucket": "results", "keyPrefix": "dos/"}
                    }
                },
            )["protectedQuery"]
            out["start_seconds"] = time.perf_counter() - start
            query = finished(querier, membership, started["id"], timeout=600.0)
            error = query.get("error") or {}
            out.update(
                outcome="finished",
                status=query["status"],
                code=error.get("code"),
                message=str(error.get("message", ""))[:2000],
            )
        except ClientError as exc:
            err = exc.response.get("Error", {})
            out.update(
                outcome="start_error", code=err.get("Code"), message=str(err.get("Message", ""))[:2000]
            )
        except BaseException as exc:  # noqa: BLE001
            out.update(_crash(exc))
        out["seconds"] = time.perf_counter() - start
    return out


def main() -> int:
    _limit()
    mode, case_id, data_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    sys.path.insert(0, str(HERE))
    try:
        payload = run_engine(case_id, data_dir) if mode == "engine" else run_e2e(case_id, data_dir)
    except BaseException as exc:  # noqa: BLE001 - setup failures are reported, not raised
        payload = _crash(exc)
        payload["stage"] = "setup"
    _report(payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
