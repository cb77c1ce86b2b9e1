"""The example stacks (``reconciler/examples``) are valid, and their sample data is small and reproducible."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from reconciler.cli import main
from reconciler.errors import Severity
from reconciler.spec import load_stack
from reconciler.workflow.stacks import EXAMPLES, example_names

REPO = Path(__file__).parents[2]
SPECS = EXAMPLES
STACKS = [SPECS / name for name in example_names()]
SCHEMA_COMMENT = "# yaml-language-server: $schema=../../schemas/spec.schema.json"

#: The only warnings an example may carry (code per stack): each is documented in its README.
EXPECTED_WARNINGS = {
    "retail-adtech-classic": ["rule-type-engine"],
    "org-a-org-b": ["dp-on-spark"],
}


def _sample_data_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_sample_data", REPO / "scripts" / "make_sample_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_the_five_example_stacks_exist() -> None:
    assert [p.name for p in STACKS] == [
        "amc-multiparty",
        "ml-lookalike",
        "org-a-org-b",
        "retail-adtech",
        "retail-adtech-classic",
    ]


@pytest.mark.parametrize("stack", STACKS, ids=[p.name for p in STACKS])
def test_reconciler_validate_accepts_the_example(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(stack)]) == 0
    out = capsys.readouterr()
    assert ("warning:" in out.out + out.err) == (stack.name in EXPECTED_WARNINGS)
    loaded = load_stack(stack)
    assert sorted(d.code for d in loaded.warnings) == EXPECTED_WARNINGS.get(stack.name, [])
    assert all(d.severity is Severity.WARNING for d in loaded.warnings)


def test_classic_stack_warns_that_its_rule_types_are_documented_for_clean_rooms_sql() -> None:
    (warning,) = load_stack(SPECS / "retail-adtech-classic").warnings
    assert "CLEAN_ROOMS_SQL" in warning.summary
    assert "ad_impressions (AGGREGATION)" in warning.summary and "purchases (AGGREGATION)" in warning.summary


@pytest.mark.parametrize("stack", STACKS, ids=[p.name for p in STACKS])
def test_every_example_file_names_the_json_schema(stack: Path) -> None:
    for file in sorted(stack.glob("*.yaml")):
        assert file.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_COMMENT, file


@pytest.mark.parametrize("stack", STACKS, ids=[p.name for p in STACKS])
def test_every_example_has_local_data_and_a_readme(stack: Path) -> None:
    loaded = load_stack(stack)
    assert (stack / "README.md").is_file()
    assert loaded.configured_tables
    for table in loaded.configured_tables:
        assert table.localData, f"{table.name} has no localData"
        assert loaded.resolve_path(table, table.localData).is_file()


def test_member_accounts_are_distinct_in_every_collaboration() -> None:
    for stack in STACKS:
        for collab in load_stack(stack).collaborations:
            accounts = [m.accountId for m in collab.members.values()]
            assert len(set(accounts)) == len(accounts), stack


def test_committed_sample_data_is_under_one_megabyte() -> None:
    total = sum(f.stat().st_size for f in SPECS.glob("*/data/*") if f.is_file())
    assert 0 < total < 1_000_000


def _rows(path: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(":memory:")
    try:
        reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
        return con.execute(f"SELECT * FROM {reader}(?)", [str(path)]).fetchall()
    finally:
        con.close()


def test_sample_data_script_regenerates_the_committed_data(tmp_path: Path) -> None:
    """Deterministic: a fresh run gives the committed CSV bytes and the committed Parquet rows."""
    script = _sample_data_script()
    written = script.generate(tmp_path)
    assert written, "the script wrote nothing"
    for path in written:
        committed = SPECS / path.relative_to(tmp_path)
        assert committed.is_file(), f"{committed} is not committed"
        if path.suffix == ".csv":
            assert path.read_bytes() == committed.read_bytes(), committed
        else:  # Parquet bytes may carry the writer's version; the content must match exactly
            assert _rows(path) == _rows(committed), committed


def test_retail_overlap_shows_threshold_suppression() -> None:
    """Some campaigns reach at least 25 shared customers and some fewer, so suppression is visible."""
    data = SPECS / "retail-adtech" / "data"
    con = duckdb.connect(":memory:")
    try:
        counts = dict(
            con.execute(
                "SELECT i.campaign_name, COUNT(DISTINCT p.hashed_email) FROM read_csv(?) p "
                "JOIN read_parquet(?) i ON p.hashed_email = i.hashed_email GROUP BY 1",
                [str(data / "purchases.csv"), str(data / "impressions.parquet")],
            ).fetchall()
        )
    finally:
        con.close()
    assert any(n >= 25 for n in counts.values()) and any(n < 25 for n in counts.values()), counts
