"""Benchmark the worst-case rule check: adversarial and scaled-up queries up to 100 KB of text.

Issue 11 ("Done when"): the worst ``check(request, collaboration)`` is under 1 s for any query up
to 100 KB. Each family below builds the largest query of its shape that fits in a given number of
characters; the check is timed cold (unique text every run, the parse cache cleared) at each size,
in a worker process with a per-check timeout, so a family that never finishes shows as ``>N s``
instead of hanging the script (the worker is killed and replaced; larger sizes of that family are
then not tried). An outcome letter follows each time: ``a`` allowed, ``r`` refused (a modeled
``QueryRejected``), ``E`` any other exception (a bug: the check must answer or refuse).

Families: every check-time attack of the DoS suite (``tests/engine/test_dos.py``): lateral alias
chains, CTE / subquery expansion, wide argument lists, deep trees, many table references, long
literals and identifiers, long GROUP BY / ORDER BY lists; and normal queries scaled up: many
output columns, a wide report of CASE columns, many joins, long WHERE chains, many CTEs, long
UNION ALL reports, long CASE bucketings.

The goal is on wall time; the summary also prints the CPU time of the worker (on a machine that
other work shares, wall times are upper bounds and CPU times the steadier figure).

Run: ``python3 bench/bench_check_worst.py [--sizes 1,10,50,100] [--repeat 3] [--timeout 5]
[--family REGEX]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUERIER, PARTNER = "111111111111", "222222222222"
COLUMNS = {"person": "VARCHAR", "region": "VARCHAR", "amount": "DOUBLE", "n": "BIGINT"}
TARGET_SECONDS = 1.0
KB = 1024
#: Address-space cap of the worker, so a runaway check fails there instead of exhausting the machine.
WORKER_ADDRESS_SPACE = 4 << 30


# -- query families -------------------------------------------------------------------------------
def _join(head: str, items: Callable[[int], str], n: int, tail: str, sep: str = ", ") -> str:
    return head + sep.join(items(i) for i in range(1, n + 1)) + tail


def _nest(n: int, open_: str, inner: str, close: str) -> str:
    return open_ * n + inner + close * n


def _lateral(op: str, first: str = "amount") -> Callable[[int], str]:
    def build(n: int) -> str:
        return _join(
            "SELECT ",
            lambda i: f"{first} AS c1" if i == 1 else f"{op.format(p=f'c{i - 1}')} AS c{i}",
            n,
            " FROM t",
        )

    return build


def _cte_chain(body: str, final: str, first: str = "SELECT amount AS x FROM t") -> Callable[[int], str]:
    def build(n: int) -> str:
        ctes = [f"c0 AS ({first})"] + [f"c{i} AS ({body.format(p=f'c{i - 1}')})" for i in range(1, n + 1)]
        return f"WITH {', '.join(ctes)} {final.format(p=f'c{n}')}"

    return build


def _subqueries(body: str, inner: str, final: str) -> Callable[[int], str]:
    def build(n: int) -> str:
        sql = inner
        for i in range(n):
            sql = body.format(p=f"({sql}) s{i}")
        return final.format(p=f"({sql}) top")

    return build


def _case_nested(n: int) -> str:
    expr = "0"
    for i in range(n):
        expr = f"CASE WHEN n = {i} THEN {i} ELSE {expr} END"
    return f"SELECT SUM({expr}) AS s FROM t"


def _in_nested(n: int) -> str:
    sql = "SELECT n FROM t"
    for _ in range(n):
        sql = f"SELECT n FROM t WHERE n IN ({sql})"
    return f"SELECT COUNT(*) AS k FROM ({sql}) s"


def _joins_on(n: int) -> str:
    parts = ["t a1"] + [f"JOIN {'tu'[i % 2]} a{i} ON a{i - 1}.person = a{i}.person" for i in range(2, n + 1)]
    return f"SELECT a1.region, COUNT(*) AS k FROM {' '.join(parts)} GROUP BY a1.region"


def _padded(n: int, template: str) -> str:
    return template.format(pad="x" * n)


#: name -> (builder of the query with size parameter n >= 1, rule variant, engine).
FAMILIES: dict[str, tuple[Callable[[int], str], str, str]] = {
    # alias chains and expansion
    "lateral_alias_doubling": (_lateral("{p} + {p}"), "custom", "SPARK"),
    "lateral_alias_concat": (_lateral("CONCAT({p}, {p})", "region"), "custom", "SPARK"),
    "lateral_alias_linear": (_lateral("{p} + 1"), "custom", "SPARK"),
    "lateral_alias_redshift": (_lateral("{p} + {p}"), "custom", "CLEAN_ROOMS_SQL"),
    "cte_expr_doubling": (
        _cte_chain("SELECT x + x AS x FROM {p}", "SELECT SUM(x) AS s FROM {p}"),
        "custom",
        "SPARK",
    ),
    "cte_twice_union": (
        _cte_chain("SELECT x FROM {p} UNION ALL SELECT x FROM {p}", "SELECT COUNT(*) AS k FROM {p}"),
        "custom",
        "SPARK",
    ),
    "subquery_expr_doubling": (
        _subqueries("SELECT x + x AS x FROM {p}", "SELECT amount AS x FROM t", "SELECT SUM(x) AS s FROM {p}"),
        "custom",
        "SPARK",
    ),
    # wide argument lists
    "greatest_args": (
        lambda n: f"SELECT GREATEST({', '.join(['amount'] * n)}) AS g FROM t",
        "custom",
        "SPARK",
    ),
    "concat_args": (lambda n: f"SELECT CONCAT({', '.join(['region'] * n)}) AS g FROM t", "custom", "SPARK"),
    "in_list": (
        lambda n: _join("SELECT COUNT(*) AS k FROM t WHERE region IN (", lambda i: f"'r{i}'", n, ")"),
        "custom",
        "SPARK",
    ),
    "array_elements": (
        lambda n: _join("SELECT ARRAY_CONTAINS(ARRAY(", str, n, "), n) AS h FROM t"),
        "custom",
        "SPARK",
    ),
    "values_rows": (
        lambda n: _join(
            "SELECT COUNT(*) AS k FROM t JOIN (VALUES ", lambda i: f"({i})", n, ") AS v(k) ON t.n = v.k"
        ),
        "custom",
        "SPARK",
    ),
    "group_by_columns": (
        lambda n: _join("SELECT COUNT(*) AS k FROM t GROUP BY ", lambda i: "n", n, ""),
        "custom",
        "SPARK",
    ),
    "order_by_exprs": (
        lambda n: _join("SELECT n FROM t ORDER BY ", lambda i: f"n + {i}", n, " LIMIT 10"),
        "custom",
        "SPARK",
    ),
    "group_by_exprs": (
        lambda n: _join("SELECT COUNT(*) AS k FROM t GROUP BY ", lambda i: f"n + {i}", n, ""),
        "custom",
        "SPARK",
    ),
    "window_functions": (
        lambda n: _join(
            "SELECT ",
            lambda i: (
                "SUM(amount) OVER (PARTITION BY region ORDER BY n "
                f"ROWS BETWEEN {i} PRECEDING AND CURRENT ROW) AS w{i}"
            ),
            n,
            " FROM t",
        ),
        "custom",
        "SPARK",
    ),
    # deep trees and long chains
    "plus_chain": (lambda n: "SELECT " + " + ".join(["amount"] * n) + " AS s FROM t", "custom", "SPARK"),
    "plus_chain_redshift": (
        lambda n: "SELECT " + " + ".join(["amount"] * n) + " AS s FROM t",
        "custom",
        "CLEAN_ROOMS_SQL",
    ),
    "and_chain": (
        lambda n: "SELECT COUNT(*) AS k FROM t WHERE " + " AND ".join(["amount > 0"] * n),
        "custom",
        "SPARK",
    ),
    "or_chain": (
        lambda n: _join("SELECT COUNT(*) AS k FROM t WHERE ", lambda i: f"region = 'r{i}'", n, "", " OR "),
        "custom",
        "SPARK",
    ),
    "concat_pipes": (lambda n: "SELECT " + " || ".join(["region"] * n) + " AS s FROM t", "custom", "SPARK"),
    "nested_parens": (lambda n: "SELECT " + _nest(n, "(", "amount", ")") + " AS s FROM t", "custom", "SPARK"),
    "nested_parens_redshift": (
        lambda n: "SELECT " + _nest(n, "(", "amount", ")") + " AS s FROM t",
        "custom",
        "CLEAN_ROOMS_SQL",
    ),
    "nested_upper": (
        lambda n: "SELECT " + _nest(n, "UPPER(", "region", ")") + " AS s FROM t",
        "custom",
        "SPARK",
    ),
    "nested_not": (
        lambda n: "SELECT COUNT(*) AS k FROM t WHERE " + "NOT " * n + "(n = 1)",
        "custom",
        "SPARK",
    ),
    "nested_case": (_case_nested, "custom", "SPARK"),
    "nested_subqueries": (
        _subqueries("SELECT x FROM {p}", "SELECT amount AS x FROM t", "SELECT SUM(x) AS s FROM {p}"),
        "custom",
        "SPARK",
    ),
    "nested_in_subqueries": (_in_nested, "custom", "SPARK"),
    # table references
    "self_cross_joins": (
        lambda n: _join("SELECT COUNT(*) AS k FROM t a0", lambda i: f" CROSS JOIN t a{i}", n, "", ""),
        "custom",
        "SPARK",
    ),
    "comma_joins": (
        lambda n: _join("SELECT COUNT(*) AS k FROM ", lambda i: f"t a{i}", n, ""),
        "custom",
        "SPARK",
    ),
    "cte_references": (
        lambda n: _join(
            "WITH c AS (SELECT n FROM t) SELECT COUNT(*) AS k FROM ",
            lambda i: f"c c{i}",
            n,
            "",
            " CROSS JOIN ",
        ),
        "custom",
        "SPARK",
    ),
    "union_all_scans": (
        lambda n: "SELECT COUNT(*) AS k FROM (" + " UNION ALL ".join(["SELECT n FROM t"] * n) + ") s",
        "custom",
        "SPARK",
    ),
    "scalar_subqueries": (
        lambda n: _join("SELECT ", lambda i: f"(SELECT MAX(n) FROM t) AS m{i}", n, " FROM t LIMIT 1"),
        "custom",
        "SPARK",
    ),
    # long texts
    "string_literal": (
        lambda n: _padded(n, "SELECT COUNT(*) AS k FROM t WHERE region <> '{pad}'"),
        "custom",
        "SPARK",
    ),
    "long_identifier": (lambda n: _padded(n, "SELECT SUM(amount) AS {pad} FROM t"), "custom", "SPARK"),
    "block_comment": (lambda n: _padded(n, "/* {pad} */ SELECT COUNT(*) AS k FROM t"), "custom", "SPARK"),
    # normal queries, scaled up (under an aggregation threshold: the most check work)
    "normal_many_columns": (
        lambda n: _join(
            "SELECT region", lambda i: f", SUM(amount * {i}) AS s{i}", n, " FROM t GROUP BY region", ""
        ),
        "threshold",
        "SPARK",
    ),
    "normal_many_joins": (_joins_on, "threshold", "SPARK"),
    "normal_wide_report": (
        lambda n: _join(
            "SELECT region",
            lambda i: f", SUM(CASE WHEN n = {i} THEN amount * {i} ELSE 0 END) AS s{i}",
            n,
            " FROM t GROUP BY region",
            "",
        ),
        "threshold",
        "SPARK",
    ),
    "normal_long_where": (
        lambda n: _join(
            "SELECT region, SUM(amount) AS s FROM t WHERE ",
            lambda i: f"(amount > {i} AND region <> 'r{i}')",
            n,
            " GROUP BY region",
            " OR ",
        ),
        "threshold",
        "SPARK",
    ),
    "normal_many_ctes": (
        _cte_chain(
            "SELECT person, region, amount FROM {p} WHERE amount > 1",
            "SELECT region, SUM(amount) AS s, COUNT(*) AS k FROM {p} GROUP BY region",
            "SELECT person, region, amount FROM t",
        ),
        "threshold",
        "SPARK",
    ),
    "normal_union_report": (
        lambda n: " UNION ALL ".join(
            f"SELECT region, SUM(amount) AS s FROM t WHERE n > {i} GROUP BY region" for i in range(n)
        ),
        "threshold",
        "SPARK",
    ),
    "normal_case_buckets": (
        lambda n: _join(
            "SELECT CASE ",
            lambda i: f"WHEN amount < {i} THEN 'b{i}'",
            n,
            " END AS bucket, COUNT(*) AS k FROM t GROUP BY 1",
            " ",
        ),
        "threshold",
        "SPARK",
    ),
}


def fit(build: Callable[[int], str], chars: int) -> tuple[int, str] | None:
    """The largest n whose query fits in ``chars`` characters (exponential then binary search)."""
    if len(build(1)) > chars:
        return None
    low, high = 1, 2
    while len(build(high)) <= chars:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if len(build(mid)) <= chars:
            low = mid
        else:
            high = mid
    return low, build(low)


# -- the worker: times check() on the engine --------------------------------------------------------
def _policy(rule: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "allowedAnalyses": ["ANY_QUERY"],
        "allowedAnalysisProviders": [QUERIER],
        "disallowedOutputColumns": ["person"],
    }
    if rule == "threshold":
        body["aggregationThresholds"] = [
            {
                "identityColumns": ["person"],
                "minimumIdentityCount": 2,
                "type": "COUNT_DISTINCT",
                "allowedAggregateExpressionType": "ANY_EXPRESSION",
            }
        ]
    return {"custom": body}


def worker(conn: Connection) -> None:
    """Receive (sql, rule, engine) jobs; answer (seconds, CPU seconds, outcome letter, detail)."""
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_ADDRESS_SPACE, WORKER_ADDRESS_SPACE))
    from reconciler.engine import Collaboration, Request, Table, check, parse_policy
    from reconciler.errors import QueryRejected

    collaborations: dict[tuple[str, str], Collaboration] = {}
    while True:
        job = conn.recv()
        if job is None:
            return
        sql, rule, engine = job
        key = (rule, engine)
        if key not in collaborations:
            policy = parse_policy(_policy(rule), columns=list(COLUMNS))
            tables = {
                "t": Table("t", QUERIER, COLUMNS, policy),
                "u": Table("u", PARTNER, COLUMNS, policy),
            }
            abilities = {QUERIER: frozenset({"CAN_QUERY", "CAN_RECEIVE_RESULTS"}), PARTNER: frozenset()}
            collaborations[key] = Collaboration(engine, abilities, tables)
            try:  # warm up (imports, dialect set-up) so the first timed check is cold only in its text
                check(Request(QUERIER, "SELECT COUNT(*) AS k FROM t -- warm-up"), collaborations[key])
            except QueryRejected:
                pass
        request = Request(QUERIER, sql)
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            check(request, collaborations[key])
            outcome, detail = "a", ""
        except QueryRejected as exc:
            outcome, detail = "r", str(exc.verdict.reason) if exc.verdict is not None else ""
        except BaseException as exc:  # noqa: BLE001 - reported as a bug, never raised
            outcome, detail = "E", type(exc).__name__
        conn.send((time.perf_counter() - start, time.process_time() - start_cpu, outcome, detail))


class Worker:
    """A worker process that is killed and replaced when a check overruns its timeout."""

    def __init__(self) -> None:
        self.context = mp.get_context("spawn")
        self.process: Any = None
        self.conn: Connection | None = None

    def _start(self) -> None:
        parent, child = self.context.Pipe()
        self.process = self.context.Process(target=worker, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.conn = parent

    def run(self, sql: str, rule: str, engine: str, timeout: float) -> tuple[float, float, str, str] | None:
        """(seconds, CPU seconds, outcome, detail) of one cold check, or None past ``timeout``."""
        if self.process is None or not self.process.is_alive():
            self._start()
        assert self.conn is not None
        self.conn.send((sql, rule, engine))
        if self.conn.poll(timeout):
            try:
                answer: tuple[float, float, str, str] = self.conn.recv()
                return answer
            except EOFError:  # the worker died (address-space cap): report it as an error
                self.stop(kill=True)
                return (timeout, timeout, "E", "worker died")
        self.stop(kill=True)
        return None

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if not kill and self.conn is not None and self.process.is_alive():
            self.conn.send(None)
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.process = None
        self.conn = None


# -- the report -----------------------------------------------------------------------------------
#: Characters kept free for the unique comment each run appends.
_MARK = 40


def _engine_limit(engine: str) -> int:
    return 500_000 if engine == "SPARK" else 90_000


def _summary(
    measured: list[tuple[str, int, float | None, str, str]],
    cpu: dict[tuple[str, int], float],
    sizes: list[int],
    width: int,
    timeout: float,
) -> None:
    """The max row, the worst check against the target, abandoned families and exceptions.

    The target is on wall time; the worker's CPU time is printed beside it (on a loaded machine
    the wall time is an upper bound, the CPU time the steadier figure).
    """
    row = []
    for size in sizes:
        at = [m for m in measured if m[1] == size]
        if any(m[2] is None for m in at):
            row.append(f">{timeout:g} s")
        elif at:
            row.append(f"{max(float(m[2] or 0) for m in at) * 1000:9.1f} ms")
        else:
            row.append("-")
    print(f"{'max':<{width}}" + "".join(f"{c:>14}" for c in row))
    done = [m for m in measured if m[2] is not None]
    abandoned = [m for m in measured if m[2] is None and m[4] == "abandoned"]
    if done:
        name, size, seconds, _, _ = max(done, key=lambda m: float(m[2] or 0))
        print(
            f"\nworst completed check: {float(seconds or 0) * 1000:.1f} ms wall, "
            f"{cpu.get((name, size), 0.0) * 1000:.1f} ms CPU ({name} at {size} KB)"
        )
        (cpu_name, cpu_size), cpu_seconds = max(cpu.items(), key=lambda item: item[1])
        print(
            f"worst CPU time: {cpu_seconds * 1000:.1f} ms ({cpu_name} at {cpu_size} KB); "
            f"target < {TARGET_SECONDS:g} s: {'OK' if cpu_seconds < TARGET_SECONDS else 'OVER'}"
        )
    if abandoned:
        first = ", ".join(f"{m[0]} at {m[1]} KB" for m in abandoned)
        print(f"abandoned after {timeout:g} s ({len(abandoned)}; larger sizes not tried): {first}")
    over = sorted({m[0] for m in measured if m[2] is None or float(m[2]) >= TARGET_SECONDS})
    worst = (
        f">{timeout:g} s" if abandoned else (f"{max(float(m[2] or 0) for m in done):.3f} s" if done else "-")
    )
    verdict = "OK" if not over else f"OVER ({len(over)} of {len(set(m[0] for m in measured))} families)"
    print(f"worst check (wall): {worst}; target < {TARGET_SECONDS:g} s for any query up to 100 KB: {verdict}")
    if over:
        print("families at or over the target: " + ", ".join(over))
    errors: dict[str, list[str]] = {}
    for name, size, _, outcome, detail in measured:
        if outcome == "E":
            errors.setdefault(f"{name} ({detail})", []).append(f"{size} KB")
    if errors:
        print(
            "checks that raised something other than a refusal: "
            + "; ".join(f"{k} at {', '.join(v)}" for k, v in errors.items())
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,10,50,100", help="query sizes in KB (1 KB = 1,024 characters)")
    parser.add_argument("--repeat", type=int, default=3, help="cold checks per size (the median is shown)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a check is abandoned")
    parser.add_argument("--family", default="", help="only families whose name matches this regex")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    families = {k: v for k, v in FAMILIES.items() if re.search(args.family, k)}
    if not families:
        parser.error(f"no family matches {args.family!r}")

    name_width = max(len(k) for k in families) + 2
    print(
        f"cold check time per family and query size (median of {args.repeat}; a allowed, r refused, "
        f"E other exception; >N s: abandoned; '-': does not fit)"
    )
    print(f"{'family':<{name_width}}" + "".join(f"{str(s) + ' KB':>14}" for s in sizes))
    measured: list[tuple[str, int, float | None, str, str]] = []  # family, KB, seconds (None: abandoned)
    cpu: dict[tuple[str, int], float] = {}  # family, KB -> median CPU seconds
    work = Worker()
    started = time.perf_counter()
    try:
        for name, (build, rule, engine) in families.items():
            cells = []
            over = False
            for size in sizes:
                fitted = fit(build, size * KB - _MARK)
                if fitted is None or size * KB > _engine_limit(engine):
                    cells.append("-")
                    continue
                if over:  # a smaller query of this family was already abandoned
                    cells.append(f">{args.timeout:g} s")
                    measured.append((name, size, None, "", "not tried"))
                    continue
                _, sql = fitted
                times, cpu_times, outcome, detail = [], [], "", ""
                for run in range(args.repeat):
                    text = f"{sql} -- run {run} {time.time_ns()}"  # unique text: nothing is cached
                    answer = work.run(text, rule, engine, args.timeout)
                    if answer is None:
                        over = True
                        break
                    seconds, cpu_seconds, outcome, detail = answer
                    times.append(seconds)
                    cpu_times.append(cpu_seconds)
                if over:
                    cells.append(f">{args.timeout:g} s")
                    measured.append((name, size, None, "", "abandoned"))
                    continue
                median = statistics.median(times)
                cells.append(f"{median * 1000:9.1f} ms {outcome}")
                measured.append((name, size, median, outcome, detail))
                cpu[(name, size)] = statistics.median(cpu_times)
            print(f"{name:<{name_width}}" + "".join(f"{c:>14}" for c in cells), flush=True)
    finally:
        work.stop()
    _summary(measured, cpu, sizes, name_width, args.timeout)
    print(f"benchmark took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
