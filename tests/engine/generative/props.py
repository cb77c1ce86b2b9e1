"""The properties, as plain functions over SQL text (or a P2 plan), shared by the hypothesis tests
and the reproductions. Each returns the outcome and raises AssertionError naming the property.

- P0: the engine refuses (QueryRejected) or answers or fails with DataError; nothing else escapes.
- P1: no cell of an answered query carries a canary of the variant (``canary.Detector``).
- P2: every output row matches an oracle group whose distinct base identities meet each slot's
  minimum (``plans``), as a multiset.
- P3: an answered query gives the same multiset of rows (or the same failure) on the base data
  and on the data whose ``email`` and ``device`` values went through a random bijection.
- P4: whether an answered query fails does not change when the values of the rows of the small
  groups are perturbed (``zero`` and ``huge`` datasets).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from generative import data
from generative.canary import Detector
from reconciler.engine import Collaboration, DataError, Request, check, execute
from reconciler.errors import QueryRejected


@dataclass(frozen=True)
class Outcome:
    kind: str  # refused | error | rows
    reason: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()

    @property
    def accepted(self) -> bool:
        return self.kind != "refused"


@dataclass
class Env:
    """Everything the examples share (built once per module): data, collaborations, detectors."""

    fx: data.Fixture
    paths: dict[str, dict[str, str]]
    collabs: dict[tuple[str, str], Collaboration] = field(default_factory=dict)
    detectors: dict[str, Detector] = field(default_factory=dict)
    oracle: duckdb.DuckDBPyConnection | None = None
    stats: Counter[str] = field(default_factory=Counter)

    def collab(self, variant: str, dataset: str = "base") -> Collaboration:
        return self.collabs[(variant, dataset)]

    def detector(self, variant: str) -> Detector:
        return self.detectors[variant]


def make_env(directory: Path) -> Env:
    fx = data.build()
    env = Env(fx, data.write(fx, directory))
    for name, variant in data.VARIANTS.items():
        for ds in data.DATASETS:
            env.collabs[(name, ds)] = data.collaboration(variant, env.paths[ds])
        env.detectors[name] = Detector(data.canaries(fx, variant))
    env.oracle = duckdb.connect(config={"threads": 1})
    return env


def run(collab: Collaboration, sql: str) -> Outcome:
    """P0 and the outcome of one query: refused, failed, or its rows."""
    try:
        prepared = check(Request(data.R, sql), collab)
    except QueryRejected as exc:
        return Outcome("refused", str(getattr(exc.verdict, "reason", "")))
    try:
        result = execute(prepared)
    except QueryRejected as exc:  # DP queries without a DPRun; never expected here
        return Outcome("refused", str(getattr(exc.verdict, "reason", "")))
    except DataError as exc:
        return Outcome("error", str(exc).splitlines()[0][:300])
    return Outcome("rows", "", tuple(result.columns), tuple(tuple(r) for r in result.rows))


def accepted(collab: Collaboration, sql: str) -> bool:
    """Whether ``check`` accepts the query (nothing is executed)."""
    try:
        check(Request(data.R, sql), collab)
    except QueryRejected:
        return False
    return True


def _p0(env: Env, variant: str, sql: str, dataset: str = "base") -> Outcome:
    try:
        return run(env.collab(variant, dataset), sql)
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        raise AssertionError(
            f"P0 engine crash ({type(exc).__name__}: {str(exc)[:300]}) on {variant}/{dataset}:\n{sql}"
        ) from exc


def p1(env: Env, variant: str, sql: str, dataset: str = "base") -> Outcome:
    """P1: run and scan every cell for canaries."""
    out = _p0(env, variant, sql, dataset)
    if dataset == "base":
        env.stats["total"] += 1
        env.stats[out.kind] += 1
    if out.kind == "rows" and dataset in ("base", "zero", "huge"):
        hit = env.detector(variant).scan(out.rows)
        assert hit is None, (
            f"P1 canary leak under {variant}: planted value {hit[0]!r} in result cell {hit[1]!r}\n{sql}"
        )
    return out


# ---------------------------------------------------------------------------------------------
# comparing results


def _norm(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, float):
        return v
    if isinstance(v, list | tuple):
        return tuple(_norm(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted(((repr(_norm(k)), _norm(x)) for k, x in v.items()), key=repr))
    if isinstance(v, dt.datetime | dt.date | dt.time | str | int | bytes):
        return v
    return repr(v)


def _key(v: Any) -> Any:
    """A sort / bucket key where floats are coarsened (the exact comparison is ``_close``)."""
    if isinstance(v, float):
        if math.isnan(v):
            return ("nan",)
        if math.isinf(v):
            return ("inf", v > 0)
        return ("f", float(f"{v:.4g}"))
    if isinstance(v, tuple):
        return tuple(_key(x) for x in v)
    return (type(v).__name__, repr(v))


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool):
        if math.isnan(a):
            return isinstance(b, float) and math.isnan(b)
        return math.isclose(a, float(b), rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(b, float) and isinstance(a, int) and not isinstance(a, bool):
        return _close(b, a)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b and type(a) is type(b)) or (a == b and not isinstance(a, bool | float))


def same_multiset(a: tuple[tuple[Any, ...], ...], b: tuple[tuple[Any, ...], ...]) -> tuple[Any, Any] | None:
    """None when equal as multisets (floats with a tolerance), else a (row only in a, row only in b)."""
    ra = sorted((_norm(r) for r in a), key=_key)
    rb = sorted((_norm(r) for r in b), key=_key)
    if len(ra) == len(rb) and all(_close(x, y) for x, y in zip(ra, rb, strict=True)):
        return None
    rest = list(rb)
    for x in ra:
        j = next((j for j, y in enumerate(rest) if _close(x, y)), None)
        if j is None:
            return x, (rest[0] if rest else None)
        rest.pop(j)
    if rest:
        return None, rest[0]
    return None


# ---------------------------------------------------------------------------------------------
# P2


def _shape(v: Any) -> Any:
    """A bucket key that ignores float values (they are compared with a tolerance)."""
    if isinstance(v, float):
        return float
    if isinstance(v, tuple):
        return tuple(_shape(x) for x in v)
    return v


def unbacked(plan: Any, rows: Any, oracle_rows: Any) -> str | None:
    """Why some engine row is not backed by an oracle group meeting the minimums (None: all are)."""
    width = plan.width
    need = [plan.minimums[s.index] for s in plan.slots]
    pool: dict[Any, list[tuple[Any, tuple[int, ...]]]] = {}
    for r in oracle_rows:
        vals = _norm(tuple(r[:width]))
        pool.setdefault(_shape(vals), []).append((vals, tuple(int(n or 0) for n in r[width:])))
    for row in rows:
        got = _norm(tuple(row))
        bucket = pool.get(_shape(got), [])
        candidates = [i for i, (vals, _) in enumerate(bucket) if _close(got, vals)]
        backed = [i for i in candidates if all(n >= m for n, m in zip(bucket[i][1], need, strict=True))]
        if not backed:
            if not candidates:
                return (
                    f"output row {row!r} matches no oracle group: it was computed from an intermediate "
                    f"group below the minimum (minimums {need})"
                )
            counts = sorted({bucket[i][1] for i in candidates})[:5]
            return f"output row {row!r} has distinct identities per reference {counts}, minimums {need}"
        bucket.pop(backed[0])
    return None


def p2(env: Env, variant: str, plan: Any) -> Outcome:
    """P2: each engine row is backed by an oracle group meeting every slot's minimum."""
    out = p1(env, variant, plan.engine_sql)
    if out.kind != "rows":
        return out
    assert env.oracle is not None
    why = unbacked(plan, out.rows, env.oracle.execute(plan.oracle_sql).fetchall())
    assert why is None, (
        f"P2 threshold under {variant}: {why}\n{plan.engine_sql}\n-- oracle:\n{plan.oracle_sql}"
    )
    return out


# ---------------------------------------------------------------------------------------------
# P3 and P4


def p3(env: Env, variant: str, sql: str) -> Outcome:
    """P3: relabeling email/device through a bijection changes nothing in an answered query."""
    base = p1(env, variant, sql)
    if not base.accepted:
        return base
    other = _p0(env, variant, sql, "relabeled")
    assert other.accepted, (
        f"P3 verdict depends on data under {variant}: refused only on relabeled data\n{sql}"
    )
    if base.kind != other.kind:
        raise AssertionError(
            f"P3 non-influence under {variant}: the query "
            f"{'fails' if base.kind == 'error' else 'answers'} on the base data but "
            f"{'fails' if other.kind == 'error' else 'answers'} once email/device are "
            f"relabeled ({base.reason or other.reason})\n{sql}"
        )
    if base.kind == "rows":
        diff = same_multiset(base.rows, other.rows)
        assert diff is None, (
            f"P3 non-influence under {variant}: relabeling email/device changed the result "
            f"({len(base.rows)} rows vs {len(other.rows)}; "
            f"e.g. base {diff[0]!r} vs relabeled {diff[1]!r})\n{sql}"
        )
    return base


def p4(env: Env, variant: str, sql: str) -> Outcome:
    """P4: failing or not does not depend on the values of the small groups' rows."""
    base = p1(env, variant, sql)
    if not base.accepted:
        return base
    for ds in ("zero", "huge"):
        other = p1(env, variant, sql, ds)
        assert other.accepted, f"P4 verdict depends on data under {variant}: refused only on {ds}\n{sql}"
        failed = base.kind == "error", other.kind == "error"
        assert failed[0] == failed[1], (
            f"P4 error oracle under {variant}: the query "
            f"{'fails' if failed[0] else 'succeeds'} on the base data "
            f"and {'fails' if failed[1] else 'succeeds'} once only the small groups' rows hold {ds} values "
            f"({base.reason or other.reason})\n{sql}"
        )
    return base


def rate(stats: Mapping[str, int]) -> float:
    total = stats.get("total", 0)
    return (total - stats.get("refused", 0)) / total if total else 0.0
