"""``reconciler query`` on a small stack written into tmp_path: rows, formats, refusals, templates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main

SPEC = Path(__file__).parent / "fixtures" / "shop.yaml"
# region a: p1, p2, p3 (3 people); region b: p4, p5 (2 people, 3 rows). The threshold is 3.
ROWS = "person,region,amount\np1,a,1\np2,a,2\np3,a,3\np4,b,4\np5,b,5\np4,b,6\n"


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_text(ROWS)
    shutil.copy(SPEC, tmp_path / "shop.yaml")
    return tmp_path


def test_rows_below_the_threshold_vanish(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT region, COUNT(*) AS n, SUM(amount) AS total FROM orders GROUP BY region"
    assert main(["query", str(stack), "--as", "retailer", "--sql", sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"region": "a", "n": 3, "total": 6}]


def test_table_and_csv_formats(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT region, COUNT(*) AS n FROM orders GROUP BY region"
    assert main(["query", str(stack), "--as", "retailer", "--sql", sql]) == 0
    assert capsys.readouterr().out.splitlines() == ["region  n", "------  -", "a       3", "(1 row)"]
    out = stack / "out.csv"
    assert (
        main(
            ["query", str(stack), "--as", "111111111111", "--sql", sql, "--format", "csv", "--out", str(out)]
        )
        == 0
    )
    assert out.read_text() == "region,n\na,3\n"


def test_refusal_exits_1_naming_rule_table_and_fragment(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "query",
            str(stack),
            "--as",
            "retailer",
            "--sql",
            "SELECT region, COUNT(*) FROM orders WHERE person = 'p1' GROUP BY region",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert (
        "[comparison_not_allowed]" in err
        and "CUSTOM rule of table 'orders'" in err
        and "`person = 'p1'`" in err
    )
    assert "Traceback" not in err


def test_template_with_parameter_file_and_parquet_out(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", str(stack), "--as", "retailer", "--template", "by_region", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "region,n\na,3\n"
    assert (
        main(
            [
                "query",
                str(stack),
                "--as",
                "retailer",
                "--template",
                "by_region",
                "--param",
                "region=b",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == "region,n\n"  # b has only 2 people
    query = stack / "q.sql"
    query.write_text("SELECT region, AVG(amount) AS avg_amount FROM orders GROUP BY region")
    out = stack / "r.parquet"
    assert main(["query", str(stack), "--as", "retailer", "--file", str(query), "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"PAR1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as", "retailer"], "exactly one of --sql, --file or --template"),
        (["--as", "retailer", "--sql", "SELECT 1", "--template", "by_region"], "exactly one"),
        (["--as", "nobody", "--sql", "SELECT region FROM orders"], "no member 'nobody'"),
        (["--as", "retailer", "--template", "by_regio"], "did you mean 'by_region'"),
        (["--as", "retailer", "--template", "by_region", "--param", "oops"], "KEY=VALUE"),
        (["--as", "partner", "--sql", "SELECT region, COUNT(*) FROM orders GROUP BY region"], "CAN_QUERY"),
    ],
)
def test_bad_usage_is_a_clear_error(
    stack: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["query", str(stack), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def _query(stack: Path, capsys: pytest.CaptureFixture[str], sql: str, *extra: str) -> tuple[int, str, str]:
    code = main(["query", str(stack), "--as", "retailer", "--sql", sql, *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_suppression_note_names_the_thresholds_and_never_the_groups(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grouped = "SELECT region, COUNT(*) AS n FROM orders GROUP BY region"
    code, out, suppressed = _query(stack, capsys, grouped)  # region b (2 people) is dropped
    assert code == 0 and "(1 row)" in out
    assert (
        "suppression: a row is returned only for a group with at least 3 distinct person of orders"
        in suppressed
    )
    assert "never says whether any were, or which" in suppressed
    # the note is the same whether a group was dropped or not: it tells nothing about the rows
    code, _, kept = _query(stack, capsys, grouped.replace("GROUP BY", "WHERE region = 'a' GROUP BY"))
    assert code == 0 and kept == suppressed


def test_no_row_exits_0_and_says_the_thresholds_and_an_empty_match_look_alike(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for region in ("b", "nowhere"):  # b: below the threshold; nowhere: no such rows
        sql = f"SELECT region, COUNT(*) AS n FROM orders WHERE region = '{region}' GROUP BY region"
        code, out, err = _query(stack, capsys, sql)
        assert code == 0 and out.endswith("(0 rows)\n")
        assert "no row met the thresholds, or no row matched the query" in err


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("rows.csv", None, "region,n\na,3\n"),
        ("rows.JSON", None, '[\n  {\n    "region": "a",\n    "n": 3\n  }\n]\n'),
        ("rows.txt", None, "region  n\n------  -\na       3\n(1 row)\n"),
        ("rows.out", "csv", "region,n\na,3\n"),
    ],
)
def test_out_takes_its_format_from_the_extension(
    stack: Path, capsys: pytest.CaptureFixture[str], name: str, fmt: str | None, expected: str
) -> None:
    sql = "SELECT region, COUNT(*) AS n FROM orders GROUP BY region"
    extra = ("--out", str(stack / name), *(("--format", fmt) if fmt else ()))
    code, out, _ = _query(stack, capsys, sql, *extra)
    assert code == 0 and out == ""
    assert (stack / name).read_text() == expected


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ("--out", "rows.csv", "--format", "json"),
            "--out rows.csv is CSV by its extension but --format json",
        ),
        (("--format", "parquet"), "--format parquet needs --out FILE"),
    ],
)
def test_a_format_that_contradicts_out_is_refused(
    stack: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    code, out, err = _query(stack, capsys, "SELECT region, COUNT(*) AS n FROM orders GROUP BY region", *extra)
    assert code == 1 and message in err and out == ""
    assert not (Path.cwd() / "rows.csv").exists()


def test_the_note_names_each_tables_aggregation_rule_output_constraint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    classic = str(Path(__file__).resolve().parents[2] / "specs" / "retail-adtech-classic")
    sql = (
        "SELECT p.store_region, COUNT(DISTINCT p.hashed_email) AS n FROM purchases p"
        " JOIN ad_impressions a ON p.hashed_email = a.hashed_email GROUP BY p.store_region"
    )
    assert main(["query", classic, "--as", "retailer", "--sql", sql]) == 0
    err = capsys.readouterr().err
    for table in ("ad_impressions", "purchases"):
        assert (
            f"at least 25 distinct hashed_email of {table} (its aggregation rule's output constraint)" in err
        )
    assert "no row met" not in err


SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.mark.spark
def test_engine_spark_prints_the_same_rows_as_the_default_engine(capsys: pytest.CaptureFixture[str]) -> None:
    stack = SPECS / "retail-adtech"
    args = ["query", str(stack), "--as", "retailer", "--file", str(stack / "queries" / "campaign_reach.sql")]
    assert main(args) == 0
    default = capsys.readouterr().out
    assert main([*args, "--engine", "spark"]) == 0
    on_spark = capsys.readouterr().out
    # the query has no ORDER BY: the same header, the same rows in any order, the same count
    assert on_spark.splitlines()[:2] == default.splitlines()[:2]
    assert sorted(on_spark.splitlines()[2:]) == sorted(default.splitlines()[2:])
    assert default.endswith("(3 rows)\n")


def test_spark_master_needs_engine_spark(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT region, COUNT(*) AS n FROM orders GROUP BY region"
    code = main(["query", str(stack), "--as", "retailer", "--sql", sql, "--spark-master", "local[2]"])
    assert code != 0
    assert "--spark-master only applies to --engine spark" in capsys.readouterr().err
