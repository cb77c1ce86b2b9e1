"""Generative attack harness (issue 11; ANALYSIS_RULES.md 4.1, 8.2, 8.6): properties over many queries.

The fixture (``generative.data``) plants canaries in disallowed and unlisted columns and small
groups below the minimums; the generators write normal and hostile Spark SQL; the properties
(``generative.props``) say what no accepted query may do:

- P1: no canary (or a cheap transform of one) reaches a result cell;
- P2: every output row is backed by the minimum of distinct base identities of every thresholded
  table reference, counted by an independent oracle in plain DuckDB (``generative.plans``);
- P3: the values of a column that is disallowed as output and in neither comparison list decide
  nothing: a NULL-preserving bijection of them leaves every answer unchanged;
- P4: whether a query fails does not depend on the values of the rows of the small groups.

Only the engine's public API is used. ``CI`` makes the runs reproducible (derandomize);
``GENERATIVE_SCALE`` scales the example counts (e.g. 0.1 for a quick local run, 5 for a soak).
Each test also checks that the generator keeps a good share of its queries accepted, so the
properties cannot pass by the engine refusing everything.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from generative import data, plans, props, queries
from generative.canary import Detector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("GENERATIVE_SCALE", "1"))
MIN_ACCEPTED = 0.25  # of generated queries (normal and hostile mixed)
SKELETONS_ACCEPTED = 0.9  # of the plain analyst queries the P3 and P4 uses are put into


def _settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,  # one example runs DuckDB (about 50-150 ms on a busy 2-core machine)
        derandomize=bool(os.environ.get("CI")),
        database=None if os.environ.get("CI") else settings.default.database,
        # the strategies draw whole queries, and check + DuckDB dominate the run time
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[props.Env]:
    e = props.make_env(tmp_path_factory.mktemp("generative"))
    yield e
    assert e.oracle is not None
    e.oracle.close()


def _report(
    record_property: Any, name: str, stats: dict[str, int], rate: float, minimum: float = MIN_ACCEPTED
) -> None:
    record_property(f"{name}_examples", stats.get("total", 0))
    record_property(f"{name}_accepted", f"{rate:.2f}")
    print(f"{name}: {stats.get('total', 0)} queries, {rate:.0%} accepted, outcomes {dict(stats)}")
    assert rate >= minimum, f"{name}: only {rate:.0%} of generated queries were accepted ({dict(stats)})"


VARIANTS = sorted(data.VARIANTS)
THRESHOLDED = sorted(v for v, x in data.VARIANTS.items() if x.thresholded)
CONTROLLED = sorted(v for v, x in data.VARIANTS.items() if x.controlled)


# ---------------------------------------------------------------------------------------------
# the harness itself


def test_fixture_plants_small_groups_below_every_minimum(env: props.Env) -> None:
    assert env.oracle is not None
    for table, groups in data.SMALL_GROUPS.items():
        path = env.paths["base"][table]
        for group in groups:
            cond = " AND ".join(f"{k} = '{v}'" for k, v in group.items())
            (n,) = env.oracle.execute(
                f"SELECT COUNT(DISTINCT user_id) FROM read_parquet('{path}') WHERE {cond}"
            ).fetchone() or (None,)
            assert n is not None and 1 <= n < data.MINIMUM[table], (table, group, n)
        for dim in data.DIMENSIONS[table]:
            small = {next(iter(g.values())) for g in groups if list(g) == [dim]}
            rows = env.oracle.execute(
                f"SELECT {dim}, COUNT(DISTINCT user_id) FROM read_parquet('{path}') GROUP BY 1"
            ).fetchall()
            assert all((n < data.MINIMUM[table]) == (v in small) for v, n in rows), (table, dim, rows)


def test_relabeling_is_a_null_preserving_bijection(env: props.Env) -> None:
    for table, rows in data.dataset(env.fx, "relabeled").items():
        col = data.SECRET_COLUMN[table]
        before = [r[col] for r in env.fx.rows[table]]
        after = [r[col] for r in rows]
        assert [b is None for b in before] == [a is None for a in after]
        pairs = {(b, a) for b, a in zip(before, after, strict=True) if b is not None}
        assert len({b for b, _ in pairs}) == len({a for _, a in pairs}) == len(pairs)
        assert not {a for _, a in pairs} & {b for b, _ in pairs}
        assert len({len(a) for _, a in pairs}) > 5  # other lengths and characters


def test_perturbation_changes_only_values_of_small_group_rows(env: props.Env) -> None:
    for name in ("zero", "huge"):
        for table, rows in data.dataset(env.fx, name).items():
            key, small = data.PERTURBED[table]
            for old, new in zip(env.fx.rows[table], rows, strict=True):
                assert old["user_id"] == new["user_id"] and old[key] == new[key]
                assert (old != new) == (old[key] in small)


def test_detector_sees_canaries_and_their_transforms() -> None:
    canary = "CANARYEK7Q2MX9B"
    d = Detector([canary, "UIDK7Q2MX9"])

    for text in (
        canary,
        canary.lower(),
        canary[::-1].lower(),
        f"x{canary[3:12]}y",
        canary.encode().hex(),
        base64.b64encode(canary.encode()).decode(),
        hashlib.md5(canary.encode()).hexdigest(),
        hashlib.sha256(canary.encode()).hexdigest().upper(),
    ):
        assert d.find(text) == canary, text
    assert d.scan([(1, ["a", {"k": ("UIDK7Q2MX9",)}])]) is not None
    assert d.scan([("north", 3, 2.5, "c1", "books-games", "UIDK7Q")]) is None


def test_oracle_flags_a_small_group_and_accepts_a_big_one(env: props.Env) -> None:
    variant = data.VARIANTS["recommended_any_expression"]
    base = plans.base_sql("purchases", 0, env.paths["base"])
    slot = plans.Slot(0, "purchases", "p0", "dcl", [], "", "")
    plan = plans.Plan(
        [slot],
        "SELECT a.region, COUNT(*) FROM purchases AS a(user_id, region) GROUP BY 1",
        f"SELECT a.region, COUNT(*), coalesce(len(list_distinct(flatten(list(__ids_0)))), 0) "
        f"FROM {base} AS a GROUP BY 1",
        "group",
        {0: variant.minimum("purchases")},
        False,
        2,
    )
    assert env.oracle is not None
    oracle_rows = env.oracle.execute(plan.oracle_sql).fetchall()
    counts = {r[0]: r[1] for r in oracle_rows}
    assert props.unbacked(plan, [("north", counts["north"])], oracle_rows) is None
    assert "identities" in (props.unbacked(plan, [("isle4", counts["isle4"])], oracle_rows) or "")
    assert "matches no oracle group" in (props.unbacked(plan, [("north", 1)], oracle_rows) or "")


# ---------------------------------------------------------------------------------------------
# the properties


def test_p1_no_canary_reaches_a_result(env: props.Env, record_property: Any) -> None:
    env.stats.clear()

    @_settings(1000)
    @given(variant=st.sampled_from(VARIANTS), query=queries.p1_queries())
    def p1(variant: str, query: queries.Query) -> None:
        props.p1(env, variant, query.sql)

    p1()
    _report(record_property, "P1", dict(env.stats), props.rate(env.stats))


def test_p2_every_row_is_backed_by_the_minimum_of_distinct_identities(
    env: props.Env, record_property: Any
) -> None:
    env.stats.clear()
    base = env.paths["base"]
    cases = st.sampled_from(THRESHOLDED).flatmap(
        lambda v: st.tuples(st.just(v), plans.plans(data.VARIANTS[v], base))
    )

    @_settings(600)
    @given(case=cases)
    def p2(case: tuple[str, plans.Plan]) -> None:
        props.p2(env, *case)

    p2()
    _report(record_property, "P2", dict(env.stats), props.rate(env.stats))


def test_p3_values_of_uncomparable_columns_decide_nothing(env: props.Env, record_property: Any) -> None:
    env.stats.clear()
    skeletons: dict[str, int] = {"total": 0, "refused": 0}

    @_settings(800)
    @given(variant=st.sampled_from(CONTROLLED), query=queries.p3_queries())
    def p3(variant: str, query: queries.Query) -> None:
        props.p3(env, variant, query.sql)
        if query.skeleton:
            skeletons["total"] += 1
            skeletons["refused"] += not props.accepted(env.collab(variant), query.skeleton)

    p3()
    print(f"P3: {props.rate(env.stats):.0%} of the queries with a use of email/device accepted")
    # the normal query around each use must stay accepted: otherwise P3 passes by refusing everything
    _report(record_property, "P3 skeletons", skeletons, props.rate(skeletons), SKELETONS_ACCEPTED)


def test_p4_failures_do_not_depend_on_the_small_groups(env: props.Env, record_property: Any) -> None:
    env.stats.clear()
    skeletons: dict[str, int] = {"total": 0, "refused": 0}

    @_settings(300)
    @given(variant=st.sampled_from(THRESHOLDED), query=queries.p4_queries())
    def p4(variant: str, query: queries.Query) -> None:
        props.p4(env, variant, query.sql)
        if query.skeleton:
            skeletons["total"] += 1
            skeletons["refused"] += not props.accepted(env.collab(variant), query.skeleton)

    p4()
    print(f"P4: {props.rate(env.stats):.0%} of the queries with an operation that can fail accepted")
    _report(record_property, "P4 skeletons", skeletons, props.rate(skeletons), SKELETONS_ACCEPTED)
