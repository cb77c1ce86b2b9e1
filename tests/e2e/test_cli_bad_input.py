"""Hostile and wrong command lines: one clear error, the documented exit code, no traceback, nothing written.

Each case prepares a working directory (a copy of an example stack under ``specs/``), runs one
command line in-process and checks the exit code, a fragment of the message, that no traceback
was printed and that no file appeared or changed (``plans/``, ``.reconciler/``, ``--out`` targets).
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from cli_helpers import run
from e2e_helpers import copy_stack

QUERY = ("query", "specs/org-a-org-b", "--as", "org_a")
TEMPLATE = (*QUERY, "--template", "engagement-by-demographic", "--seed", "1")


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)
    copy_stack("retail-adtech", tmp_path)
    copy_stack("org-a-org-b", tmp_path)
    (tmp_path / "a-file").write_text("not a directory\n")


def _files(root: Path) -> dict[str, tuple[bool, bytes]]:
    return {
        str(p.relative_to(root)): (p.is_dir(), b"" if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def _write(path: str, data: bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)

    return setup


def _mkdir(path: str) -> Callable[[Path], None]:
    return lambda root: (root / path).mkdir(parents=True)


def _no_specs(root: Path) -> None:
    shutil.rmtree(root / "specs")


def _nothing(root: Path) -> None:
    """No preparation beyond the fixture."""


CASES: list[tuple[str, Callable[[Path], None], tuple[str, ...], int, str]] = [
    # --out / -o into places that cannot hold a file (a file where a directory is expected)
    (
        "schema-out-under-file",
        _nothing,
        ("schema", "-o", "a-file/x.json"),
        1,
        "a-file is a file, not a directory",
    ),
    ("schema-check-missing", _nothing, ("schema", "--check", "-o", "nowhere/x.json"), 1, "does not exist"),
    ("query-out-under-file", _nothing, (*TEMPLATE, "--out", "a-file/rows.csv"), 1, "cannot write the rows"),
    (
        "review-out-under-file",
        _nothing,
        ("review", "--base", "specs", "--head", "specs", "retail-adtech", "--out", "a-file/r.md"),
        1,
        "cannot write the review",
    ),
    # query files and parameters
    (
        "query-file-missing",
        _nothing,
        (*QUERY, "--file", "nope.sql"),
        1,
        "cannot read the query file nope.sql",
    ),
    (
        "query-file-not-utf8",
        _write("bad.sql", b"SELECT 1\n-- caf\xe9\n"),
        (*QUERY, "--file", "bad.sql"),
        1,
        "bad.sql:2:7: the query file is not valid UTF-8",
    ),
    ("query-param-no-equals", _nothing, (*TEMPLATE, "--param", "region"), 1, "is not KEY=VALUE"),
    (
        "query-param-twice",
        _nothing,
        (*TEMPLATE, "--param", "region=north", "--param", "region=south"),
        1,
        "region is given twice",
    ),
    ("query-param-unknown", _nothing, (*TEMPLATE, "--param", "bogus=1"), 1, "has no parameter 'bogus'"),
    (
        "query-param-wrong-type",
        _nothing,
        (*TEMPLATE, "--param", "min_engagement=abc"),
        1,
        "not a valid DOUBLE",
    ),
    # the local backend's directory and file
    (
        "duckdb-is-a-directory",
        _mkdir(".reconciler/local.duckdb"),
        ("plan", "specs/retail-adtech"),
        1,
        "local backend file .reconciler/local.duckdb cannot be used",
    ),
    (
        "duckdb-is-corrupt",
        _write(".reconciler/local.duckdb", b"garbage\n"),
        ("plan", "specs/retail-adtech"),
        1,
        "not a valid DuckDB database file",
    ),
    (
        "dot-reconciler-is-a-file",
        _write(".reconciler", b"x\n"),
        ("plan", "specs/retail-adtech"),
        1,
        ".reconciler is a file, not a directory",
    ),
    (
        "lock-dir-is-a-file",
        _write(".reconciler", b"x\n"),
        ("import", "collaboration.retail-ad-campaign-analysis", "x" * 36, "specs/retail-adtech"),
        1,
        "cannot create the lock file",
    ),
    # finding the stack: every command the same way, saying how to name one
    (
        "plan-without-specs-dir",
        _no_specs,
        ("plan",),
        1,
        "there is no specs/ directory here",
    ),
    ("plan-unknown-stack", _nothing, ("plan", "nonexist"), 1, "give the stack's directory as STACK"),
    (
        "query-unknown-stack",
        _nothing,
        ("query", "nonexist", "--as", "retailer", "--sql", "SELECT 1"),
        1,
        "no stack 'nonexist': not a path, and not under ./specs or the examples",
    ),
    (
        "query-unknown-stack-hint",
        _nothing,
        ("query", "nonexist", "--as", "retailer", "--sql", "SELECT 1"),
        1,
        "give the stack's directory as STACK",
    ),
    # import, review, graph
    (
        "import-bad-address-locks-nothing",
        _nothing,
        ("import", "bogus", "123", "specs/retail-adtech"),
        1,
        "'bogus' is not an address",
    ),
    (
        "review-unknown-stack",
        _nothing,
        ("review", "--base", "specs", "--head", "specs", "nope"),
        1,
        "no stack 'nope'",
    ),
    (
        "review-missing-policy",
        _nothing,
        ("review", "--base", "specs", "--head", "specs", "retail-adtech", "--policy", "nope.yaml"),
        1,
        "'nope.yaml' does not exist",
    ),
    (
        "graph-plan-of-another-stack",
        _nothing,
        ("graph", "specs/retail-adtech", "--plan", "plans/org-a-org-b.json"),
        1,
        "is a plan of stack 'org-a-org-b', not of 'retail-adtech'",
    ),
]


@pytest.mark.parametrize(
    ("setup", "argv", "code", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_clear_error(
    setup: Callable[[Path], None],
    argv: tuple[str, ...],
    code: int,
    fragment: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if "plans/org-a-org-b.json" in argv:
        assert run(capsys, "plan", "specs/org-a-org-b", "--out", "plans/org-a-org-b.json")[0] == 0
    setup(tmp_path)
    before = _files(tmp_path)
    got, out, err = run(capsys, *argv)
    assert got == code, out + err
    assert fragment in out + err
    assert "Traceback" not in out + err and "bug in reconciler" not in err
    assert _files(tmp_path) == before


def test_ctrl_c_exits_130_and_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("reconciler.workflow.make_plan", interrupted)
    code, out, err = run(capsys, "plan", "specs/retail-adtech")
    assert code == 130
    assert err.strip() == "Interrupted while reading the state; nothing was changed."
    assert "Traceback" not in out + err


def test_closed_stdin_at_the_prompt_is_an_error_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = run(capsys, "apply", "specs/retail-adtech")
    assert code == 1
    assert "standard input is closed; nothing was changed" in err and "--auto-approve" in err
    assert "Traceback" not in out + err


def test_abort_without_a_cause_still_says_aborted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def abort(*args: object, **kwargs: object) -> None:
        raise click.Abort

    monkeypatch.setattr("reconciler.workflow.make_plan", abort)
    code, _, err = run(capsys, "plan", "specs/retail-adtech")
    assert (code, err) == (1, "Aborted.\n")


@pytest.mark.parametrize(
    ("out", "fragment"),
    [("a-file/p.json", "a-file is a file, not a directory"), ("/proc/p.json", "cannot write the plan")],
)
def test_plan_out_that_cannot_be_written_is_one_clear_error_and_writes_nothing(
    out: str, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    got, stdout, err = run(capsys, "plan", "specs/retail-adtech", "--out", out)
    assert got == 1, stdout + err
    assert "cannot write the plan to" in err and fragment in err and "--out" in err
    assert "Traceback" not in stdout + err and "bug in reconciler" not in err
    assert (tmp_path / "a-file").read_text() == "not a directory\n"
    assert not (tmp_path / "plans").exists()
    assert not any(p.name.startswith(".p.json") for p in tmp_path.rglob("*"))
