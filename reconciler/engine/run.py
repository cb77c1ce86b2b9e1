"""Executing a checked query on DuckDB, sealed off from everything but the tables it may read.

Each run gets a fresh in-memory DuckDB connection holding one view per referenced table, named
by its association name and projecting only its allowed columns (plus any column a constraint
counts, which the checks never let a query name). Then external access is switched off except
for exactly those data files (and the one result file, when exporting), extension
auto-loading is off, and the configuration is locked, before the query, regenerated from the
validated tree, runs. Suppression is already part of that statement (see ``suppress``), so a
row the rules forbid never leaves DuckDB.

Every run is bounded (ANALYSIS_RULES.md 4.1 item 7): DuckDB gets a memory limit and no disk to
spill to, a timer interrupts the statement after ``ExecutionLimits.timeout_seconds``, and at most
``ExecutionLimits.rows`` result rows are read. A query over a limit fails with the neutral code
``INSUFFICIENT_COMPUTE``; the limits can be raised with ``RECONCILER_QUERY_TIMEOUT`` (seconds),
``RECONCILER_QUERY_MEMORY`` (DuckDB's notation, ``2GB``) and ``RECONCILER_QUERY_ROWS``.

A query over tables with differential privacy (``Prepared.dp``) never runs its SQL as it is:
``reconciler.dp.execute`` answers it with noise on the same sealed connection, with the
``DPRun`` settings the caller got from admitting it against the privacy budget. Without them
the query is refused; no exact answer is ever returned in place of a noisy one.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from reconciler import dp
from reconciler.engine.enforce import Prepared
from reconciler.engine.facts import Table
from reconciler.engine.rules import AggregationRule, CustomRule, Reason
from reconciler.engine.spark import semantics
from reconciler.engine.verdict import refuse
from reconciler.errors import ReconcilerError

__all__ = [
    "DPRun",
    "DataError",
    "ExecutionLimits",
    "Result",
    "describe",
    "execute",
    "export",
    "limits",
    "visible_columns",
    "write",
]

_FORMATS = {"CSV": "(FORMAT csv, HEADER true)", "PARQUET": "(FORMAT parquet)"}


class DataError(ReconcilerError):
    """A table's local data is missing or does not match its allowed columns, or the query failed.

    ``code`` is the ``ProtectedQueryError`` code AWS would give (``RESOURCE_NOT_FOUND``,
    ``INVALID_RESOURCE``, ``INSUFFICIENT_COMPUTE``, ``MALFORMED_QUERY``), and ``retryable``
    whether running the same query again might succeed.
    """

    def __init__(
        self, message: str, *, hint: str = "", code: str = "INVALID_RESOURCE", retryable: bool = False
    ):
        super().__init__(message, hint=hint)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class ExecutionLimits:
    """What one protected query may use while it runs (see the module docstring)."""

    timeout_seconds: float = 8.0
    memory: str = "1GB"
    rows: int = 1_000_000
    threads: int = 2


def limits() -> ExecutionLimits:
    """The execution limits, from the environment where it sets them.

    Raises:
        DataError: a variable that is not a positive number (or, for memory, not like ``2GB``).
    """
    base = ExecutionLimits()
    try:
        timeout = float(os.environ.get("RECONCILER_QUERY_TIMEOUT", base.timeout_seconds))
        rows = int(os.environ.get("RECONCILER_QUERY_ROWS", base.rows))
    except ValueError:
        raise DataError(
            "RECONCILER_QUERY_TIMEOUT and RECONCILER_QUERY_ROWS must be numbers", code="INVALID_RESOURCE"
        ) from None
    memory = os.environ.get("RECONCILER_QUERY_MEMORY", base.memory).strip()
    if (
        timeout <= 0
        or rows <= 0
        or not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", memory, re.I)
    ):
        raise DataError(
            "RECONCILER_QUERY_TIMEOUT and RECONCILER_QUERY_ROWS must be positive and RECONCILER_QUERY_MEMORY "
            "like 2GB",
            code="INVALID_RESOURCE",
        )
    return ExecutionLimits(timeout, memory, rows, base.threads)


@dataclass(frozen=True)
class Result:
    """Rows of a protected query, with column names and DuckDB type names.

    For a differentially private answer, ``differential_privacy`` is the API's
    ``DifferentialPrivacyParameters`` (``protectedQuery.differentialPrivacy``) and ``private`` is
    False when the noise came from a seed (reproducible dry runs and tests: NOT private).
    """

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    differential_privacy: Mapping[str, Any] | None = None
    private: bool = True


@dataclass(frozen=True)
class DPRun:
    """How to answer a query over tables with differential privacy, once it has been admitted.

    Args:
        users_noise: usersNoisePerQuery of the collaboration's DIFFERENTIAL_PRIVACY budget template
            (the value the query was charged with).
        query_id: the protected query's id (labels seeded draws).
        noise: the randomness; the operating system's CSPRNG unless a test or a dry run seeds it.
    """

    users_noise: int
    query_id: str
    noise: dp.NoiseSource = field(default_factory=dp.NoiseSource.secure)


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


def visible_columns(table: Table) -> list[str]:
    """The columns a run exposes of a table: its allowed columns, then any a constraint counts."""
    return [*table.columns, *_hidden_columns(table)]


def _hidden_columns(table: Table) -> list[str]:
    """Columns a constraint counts that are not allowed columns (exposed for suppression only)."""
    rule = table.rule
    needed: list[str] = []
    if isinstance(rule, AggregationRule):
        needed = [c for c, _ in rule.output_constraints]
    elif isinstance(rule, CustomRule) and rule.threshold is not None:
        needed = [rule.threshold.identity_column]
    return [c for c in needed if c not in table.columns]


def _connect(
    tables: Sequence[Table], writable: Sequence[Path] = (), bounds: ExecutionLimits | None = None
) -> duckdb.DuckDBPyConnection:
    bounds = bounds or limits()
    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": bounds.memory,
            "threads": bounds.threads,
            "temp_directory": "",
        }
    )
    allowed: list[str] = []
    try:
        semantics.register(con)  # Spark's answers on DuckDB (SPARK collaborations call them)
        for table in tables:
            if not table.data:
                raise DataError(
                    f"table {table.name!r} has no local data",
                    hint="set localData to a CSV or Parquet file",
                    code="RESOURCE_NOT_FOUND",
                )
            path = Path(table.data).resolve()
            if not path.is_file():
                raise DataError(
                    f"local data file {path} of table {table.name!r} does not exist",
                    code="RESOURCE_NOT_FOUND",
                )
            columns = ", ".join(_ident(c) for c in visible_columns(table))
            try:
                con.execute(f"CREATE VIEW {_ident(table.name)} AS SELECT {columns} FROM {_reader(str(path))}")
            except duckdb.Error as exc:
                raise DataError(
                    f"local data {path} does not match table {table.name!r}: {str(exc).splitlines()[0]}"
                ) from None
            allowed.append(str(path))
        allowed += [str(p.resolve()) for p in writable]
        con.execute("SET TimeZone = 'UTC'")  # Spark's TIMESTAMP is UTC on AWS; never the machine's zone
        con.execute(f"SET allowed_paths = [{', '.join(_literal(p) for p in allowed)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


#: Errors DuckDB raises while planning or refusing access, before any row is read: no data in the text.
_PLANNING_ERRORS = (
    duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException, duckdb.PermissionException,
)  # fmt: skip


def _failed(exc: duckdb.Error, timer: _Timer | None = None) -> DataError:
    """A runtime error's text can quote row values (a failed conversion): withhold it; say which limit."""
    if timer is not None and timer.fired:
        return DataError(
            f"the query ran longer than the local engine's limit of {timer.seconds:g} s and was stopped",
            hint="raise RECONCILER_QUERY_TIMEOUT, or run it on less data",
            code="INSUFFICIENT_COMPUTE",
        )
    text = str(exc)
    if isinstance(exc, duckdb.OutOfMemoryException) or "Out of Memory" in text:
        return DataError(
            "the query needed more memory than the local engine's limit and was stopped",
            hint="raise RECONCILER_QUERY_MEMORY, or run it on less data",
            code="INSUFFICIENT_COMPUTE",
        )
    if isinstance(exc, _PLANNING_ERRORS):
        return DataError(f"the query failed: {text.splitlines()[0]}", code="MALFORMED_QUERY")
    kind = text.split(":", 1)[0] if ":" in text else type(exc).__name__
    return DataError(
        f"the query failed while reading rows ({kind[:60]}); DuckDB's message is withheld"
        " because it can quote values the rules do not let the query return",
        code="INTERNAL_ERROR",
    )


class _Timer:
    """Interrupts a connection's statement after ``seconds`` (DuckDB has no statement timeout)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._con = con
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        self._con.interrupt()

    def __enter__(self) -> _Timer:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()


@contextmanager
def _bounded(con: duckdb.DuckDBPyConnection, bounds: ExecutionLimits) -> Iterator[_Timer]:
    """Run statements on ``con`` under the time limit; DuckDB errors become neutral DataErrors."""
    timer = _Timer(con, bounds.timeout_seconds)
    try:
        with timer:
            yield timer
    except duckdb.Error as exc:
        raise _failed(exc, timer) from None
    except RuntimeError as exc:  # DuckDB raises a plain RuntimeError when interrupted in some versions
        if timer.fired:
            raise _failed(duckdb.InterruptException(str(exc)), timer) from None
        raise


def _fetch(cursor: duckdb.DuckDBPyConnection, bounds: ExecutionLimits) -> tuple[tuple[Any, ...], ...]:
    rows: list[tuple[Any, ...]] = []
    while True:
        chunk = cursor.fetchmany(10_000)
        if not chunk:
            return tuple(rows)
        rows += chunk
        if len(rows) > bounds.rows:
            raise DataError(
                f"the query returned more than the local engine's limit of {bounds.rows:,} rows",
                hint="aggregate further, or raise RECONCILER_QUERY_ROWS",
                code="INSUFFICIENT_COMPUTE",
            )


def _admitted(prepared: Prepared, dp_run: DPRun | None) -> DPRun | None:
    """The settings a differentially private query runs with (None for other queries).

    Raises:
        QueryRejected: a differentially private query without them, before any data is opened.
    """
    if prepared.dp is None:
        return None
    if dp_run is None:
        tables = ", ".join(sorted(prepared.dp_tables))
        raise refuse(
            Reason.OTHER,
            f"the query reads tables protected by differential privacy ({tables}); it runs only with "
            "noise, once charged to the collaboration's differential privacy budget, and never returns "
            "exact answers",
            table=tables,
            rule="CUSTOM",
        )
    return dp_run


def execute(prepared: Prepared, dp_run: DPRun | None = None) -> Result:
    """Run a checked query and return its rows (suppressed rows never come back).

    Args:
        prepared: the output of ``enforce.check``.
        dp_run: for a query over tables with differential privacy (``prepared.dp``), the noise
            setting and query id it was admitted with; ignored for other queries.

    Returns:
        The Result (noisy for a differentially private query).

    Raises:
        DataError: missing or mismatched local data, or a runtime error in the query.
        QueryRejected: a differentially private query without ``dp_run`` (nothing is read).
    """
    run = _admitted(prepared, dp_run)
    bounds = limits()
    con = _connect(prepared.tables, bounds=bounds)
    try:
        with _bounded(con, bounds):
            if prepared.dp is not None and run is not None:
                answer = dp.execute(
                    con, prepared.dp, users_noise=run.users_noise, noise=run.noise, query_id=run.query_id
                )
                return Result(answer.columns, answer.types, answer.rows, answer.to_api(), answer.private)
            cursor = con.execute(prepared.sql)
            description = cursor.description or []
            rows = _fetch(cursor, bounds)
    finally:
        con.close()
    return Result(tuple(d[0] for d in description), tuple(str(d[1]) for d in description), rows)


def _options(result_format: str) -> str:
    options = _FORMATS.get(result_format.upper())
    if options is None:
        raise DataError(f"unknown result format {result_format!r}; use CSV or PARQUET")
    return options


def export(prepared: Prepared, path: Path, result_format: str = "CSV", dp_run: DPRun | None = None) -> int:
    """Run a checked query and write its rows to ``path`` as CSV or Parquet; return the row count.

    A differentially private query is answered once (``execute`` with ``dp_run``) and its noisy
    rows are written; see ``write``.

    Raises:
        DataError: as ``execute``, or an unknown format.
        QueryRejected: as ``execute``.
    """
    options = _options(result_format)
    if prepared.dp is not None:
        return write(execute(prepared, dp_run), path, result_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    bounds = limits()
    con = _connect(prepared.tables, writable=[path], bounds=bounds)
    try:
        with _bounded(con, bounds):
            count = con.execute(
                f"COPY (SELECT * FROM ({prepared.sql}) LIMIT {bounds.rows + 1}) "
                f"TO {_literal(str(path.resolve()))} "
                f"{options}"
            ).fetchone()
    finally:
        con.close()
    written = int(count[0]) if count else 0
    if written > bounds.rows:
        path.unlink(missing_ok=True)
        raise DataError(
            f"the query returned more than the local engine's limit of {bounds.rows:,} rows",
            hint="aggregate further, or raise RECONCILER_QUERY_ROWS",
            code="INSUFFICIENT_COMPUTE",
        )
    return written


def write(result: Result, path: Path, result_format: str = "CSV") -> int:
    """Write rows already computed (a noisy answer is released once) to ``path``; return the count.

    Args:
        result: what ``execute`` returned.
        path: the file to write (its directory is created).
        result_format: ``CSV`` or ``PARQUET``.

    Returns:
        The number of rows written.

    Raises:
        DataError: an unknown format, or the file cannot be written.
    """
    options = _options(result_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for column in result.columns:  # a CSV header may repeat a name; a table may not
        names.append(column if column not in names else f"{column}_{len(names) + 1}")
    columns = ", ".join(f"{_ident(c)} {t}" for c, t in zip(names, result.types, strict=True))
    with duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    ) as con:
        try:
            con.execute(f"CREATE TABLE result ({columns})")
            if result.rows:
                marks = ", ".join("?" for _ in result.columns)
                con.executemany(f"INSERT INTO result VALUES ({marks})", [list(r) for r in result.rows])
            con.execute(f"COPY result TO {_literal(str(path.resolve()))} {options}")
        except duckdb.Error as exc:
            raise DataError(f"cannot write the result to {path}: {str(exc).splitlines()[0]}") from None
    return len(result.rows)
