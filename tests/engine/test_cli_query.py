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


SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.mark.spark
def test_engine_spark_prints_the_same_rows_as_the_default_engine(capsys: pytest.CaptureFixture[str]) -> None:
    stack = SPECS / "retail-adtech"
    args = ["query", str(stack), "--as", "retailer", "--file", str(stack / "queries" / "campaign_reach.sql")]
    assert main(args) == 0
    default = capsys.readouterr().out
    assert main([*args, "--engine", "spark"]) == 0
    assert capsys.readouterr().out == default
    assert default.endswith("(3 rows)\n")


def test_spark_master_needs_engine_spark(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT region, COUNT(*) AS n FROM orders GROUP BY region"
    code = main(["query", str(stack), "--as", "retailer", "--sql", sql, "--spark-master", "local[2]"])
    assert code != 0
    assert "--spark-master only applies to --engine spark" in capsys.readouterr().err
