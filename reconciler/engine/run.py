"""Executing a checked query on DuckDB, sealed off from everything but the tables it may read.

Each run gets a fresh in-memory DuckDB connection holding one view per referenced table, named
by its association name and projecting only its allowed columns (plus any column a constraint
counts, which the checks never let a query name). Then external access is switched off except
for exactly those data files (and the one result file, when exporting), extension
auto-loading is off, and the configuration is locked, before the query, regenerated from the
validated tree, runs. Suppression is already part of that statement (see ``suppress``), so a
row the rules forbid never leaves DuckDB.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from reconciler.engine.enforce import Prepared
from reconciler.engine.facts import Table
from reconciler.engine.rules import AggregationRule, CustomRule
from reconciler.errors import ReconcilerError

__all__ = ["DataError", "Result", "describe", "execute", "export"]

_FORMATS = {"CSV": "(FORMAT csv, HEADER true)", "PARQUET": "(FORMAT parquet)"}


class DataError(ReconcilerError):
    """A table's local data is missing or does not match its allowed columns, or the query failed."""


@dataclass(frozen=True)
class Result:
    """Rows of a protected query, with column names and DuckDB type names."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def _literal(text: str) -> str:
    return exp.Literal.string(text).sql(dialect="duckdb")


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def _reader(path: str) -> str:
    suffix = Path(path).suffix.lower()
    function = "read_parquet" if suffix in (".parquet", ".pq") else "read_csv"
    return f"{function}({_literal(path)})"


@functools.lru_cache(maxsize=256)
def _describe_cached(path: str, mtime: float) -> tuple[tuple[str, str], ...]:
    with duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    ) as con:
        rows = con.execute(f"DESCRIBE SELECT * FROM {_reader(path)}").fetchall()
    return tuple((str(r[0]).lower(), str(r[1])) for r in rows)


def describe(path: str | Path) -> dict[str, str]:
    """Column name (lower case) -> DuckDB type of a local CSV or Parquet file.

    Raises:
        DataError: the file is missing or unreadable.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"local data file {p} does not exist", hint="check the table's localData path")
    try:
        return dict(_describe_cached(str(p.resolve()), p.stat().st_mtime))
    except duckdb.Error as exc:
        raise DataError(f"cannot read local data file {p}: {str(exc).splitlines()[0]}") from None


def _hidden_columns(table: Table) -> list[str]:
    """Columns a constraint counts that are not allowed columns (exposed for suppression only)."""
    rule = table.rule
    needed: list[str] = []
    if isinstance(rule, AggregationRule):
        needed = [c for c, _ in rule.output_constraints]
    elif isinstance(rule, CustomRule) and rule.threshold is not None:
        needed = [rule.threshold.identity_column]
    return [c for c in needed if c not in table.columns]


def _connect(tables: Sequence[Table], writable: Sequence[Path] = ()) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    allowed: list[str] = []
    try:
        for table in tables:
            if not table.data:
                raise DataError(
                    f"table {table.name!r} has no local data", hint="set localData to a CSV or Parquet file"
                )
            path = Path(table.data).resolve()
            if not path.is_file():
                raise DataError(f"local data file {path} of table {table.name!r} does not exist")
            columns = ", ".join(_ident(c) for c in [*table.columns, *_hidden_columns(table)])
            try:
                con.execute(f"CREATE VIEW {_ident(table.name)} AS SELECT {columns} FROM {_reader(str(path))}")
            except duckdb.Error as exc:
                raise DataError(
                    f"local data {path} does not match table {table.name!r}: {str(exc).splitlines()[0]}"
                ) from None
            allowed.append(str(path))
        allowed += [str(p.resolve()) for p in writable]
        con.execute(f"SET allowed_paths = [{', '.join(_literal(p) for p in allowed)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def execute(prepared: Prepared) -> Result:
    """Run a checked query and return its rows (suppressed rows never come back).

    Args:
        prepared: the output of ``enforce.check``.

    Returns:
        The Result.

    Raises:
        DataError: missing or mismatched local data, or a runtime error in the query.
    """
    con = _connect(prepared.tables)
    try:
        cursor = con.execute(prepared.sql)
        description = cursor.description or []
        rows = tuple(cursor.fetchall())
    except duckdb.Error as exc:
        raise DataError(f"the query failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    return Result(tuple(d[0] for d in description), tuple(str(d[1]) for d in description), rows)


def export(prepared: Prepared, path: Path, result_format: str = "CSV") -> int:
    """Run a checked query and write its rows to ``path`` as CSV or Parquet; return the row count.

    Raises:
        DataError: as ``execute``, or an unknown format.
    """
    options = _FORMATS.get(result_format.upper())
    if options is None:
        raise DataError(f"unknown result format {result_format!r}; use CSV or PARQUET")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(prepared.tables, writable=[path])
    try:
        count = con.execute(f"COPY ({prepared.sql}) TO {_literal(str(path.resolve()))} {options}").fetchone()
    except duckdb.Error as exc:
        raise DataError(f"the query failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    return int(count[0]) if count else 0
