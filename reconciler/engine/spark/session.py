"""Running a checked query on Spark (``--engine spark``), sealed like the DuckDB connection.

One SparkSession per master per process (``local[*]`` by default, or any master URL such as a
standalone cluster's ``spark://host:7077``) is started with what the checks rely on: ANSI mode,
the UTC session time zone, an in-memory catalog, no SQL on files (``spark.sql.runSQLOnFiles``
false), and a driver bound to 127.0.0.1 for local masters. Each query gets a fresh child
session (``newSession``: its own temporary views and settings) holding one temporary view per
table, named by its association and projecting only the allowed columns (plus what a
constraint counts), over the table's Parquet file; a CSV file is first converted to Parquet by
DuckDB, so both engines read the same values. The statement is the checked, suppression-
rewritten tree rendered by ``target`` (non-failing on every value); nothing else is run, no
function is registered, and reflection (``reflect``, ``java_method``) never passes the checks.

Limits as on DuckDB: the statement is cancelled after the timeout (``INSUFFICIENT_COMPUTE``), at
most ``rows`` rows are read, and a runtime error's text is withheld (it can quote values).
Validated ``computeConfiguration`` properties (``properties``) are set on the query's session.

pyspark is an optional extra (``pip install 'cleanrooms-reconciler[spark]'``); it is imported
only when a query runs here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from reconciler.engine.enforce import Prepared
from reconciler.engine.rules import Reason
from reconciler.engine.run import DataError, ExecutionLimits, Result, limits, visible_columns, write
from reconciler.engine.spark.properties import validate
from reconciler.engine.verdict import refuse

__all__ = ["DEFAULT_MASTER", "SparkSettings", "execute", "export", "session", "stop"]

DEFAULT_MASTER = "local[*]"
#: The statement's time limit on Spark unless RECONCILER_QUERY_TIMEOUT sets one: a fresh JVM
#: plans and compiles its first query for seconds, and a cluster's data is bigger than DuckDB's 8 s.
SPARK_TIMEOUT_SECONDS = 300.0

#: Settings every session starts with; ``computeConfiguration`` properties cannot override them.
SEALED: Mapping[str, str] = {
    "spark.sql.ansi.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.runSQLOnFiles": "false",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.legacy.allowUntypedScalaUDF": "false",
}
#: Settings for local masters only: a driver that listens on the loopback interface alone.
LOCAL: Mapping[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
}


@dataclass(frozen=True)
class SparkSettings:
    """Where and how a query runs on Spark.

    Attributes:
        master: the Spark master URL (``local[*]``, ``local[4]``, ``spark://host:7077``).
        properties: ``computeConfiguration.worker.properties.spark`` (validated again here).
        staging: a directory for CSV data converted to Parquet; on a cluster it must be a path
            every executor reads at the same place (the data files themselves must be too).
    """

    master: str = DEFAULT_MASTER
    properties: Mapping[str, str] = field(default_factory=dict)
    staging: str = ""


_SESSIONS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError:
        raise DataError(
            "--engine spark needs pyspark, which is not installed",
            hint="pip install 'cleanrooms-reconciler[spark]' (and Java 17)",
            code="INTERNAL_ERROR",
        ) from None
    return pyspark.sql


def session(master: str = DEFAULT_MASTER) -> Any:
    """The sealed SparkSession for ``master`` (started once per process).

    Raises:
        DataError: pyspark is missing, or Spark does not start (no Java, a master not reachable).
    """
    with _LOCK:
        found = _SESSIONS.get(master)
        if found is not None:
            return found
        sql = _pyspark()
        builder = sql.SparkSession.builder.master(master).appName("reconciler-protected-query")
        settings = {**SEALED, **(LOCAL if master.startswith("local") else {})}
        for key, value in settings.items():
            builder = builder.config(key, value)
        try:
            started = builder.getOrCreate()
        except Exception as exc:  # py4j or a JVM that does not start: say so, no traceback
            raise DataError(
                f"Spark did not start on master {master}: {str(exc).strip().splitlines()[0][:200]}",
                hint="check Java 17 (java -version) and the --spark-master URL",
                code="INTERNAL_ERROR",
            ) from None
        started.sparkContext.setLogLevel("OFF")  # errors are reported here, without row values
        _SESSIONS[master] = started
        return started


def stop() -> None:
    """Stop every session this process started (tests and benchmarks)."""
    with _LOCK:
        for found in _SESSIONS.values():
            found.stop()
        _SESSIONS.clear()


def _refuse_unsupported(prepared: Prepared) -> str:
    if prepared.dp is not None:
        raise refuse(
            Reason.OTHER,
            "queries over tables with differential privacy run on the default engine only; --engine spark "
            "does not answer them (the noise mechanism runs on DuckDB)",
            table=", ".join(sorted(prepared.dp_tables)),
            rule="CUSTOM",
        )
    if prepared.spark_refusal:
        raise refuse(Reason.DISALLOWED_CONSTRUCT, prepared.spark_refusal)
    if not prepared.spark_sql:
        raise refuse(Reason.OTHER, "only SPARK collaborations run on --engine spark")
    return prepared.spark_sql


def execute(prepared: Prepared, settings: SparkSettings | None = None) -> Result:
    """Run a checked query on Spark and return its rows, typed as DuckDB names them.

    Raises:
        QueryRejected: a differential-privacy query, a CLEAN_ROOMS_SQL one, or one Spark cannot
            run without failing on a value (nothing is read).
        DataError: pyspark missing, local data missing, a property refused, or the query failed.
    """
    settings = settings or SparkSettings()
    statement = _refuse_unsupported(prepared)
    try:
        properties = validate(settings.properties)
    except ValueError as exc:
        raise DataError(str(exc), code="INVALID_RESOURCE") from None
    bounds = limits()
    if "RECONCILER_QUERY_TIMEOUT" not in os.environ:
        bounds = dataclasses.replace(bounds, timeout_seconds=SPARK_TIMEOUT_SECONDS)
    spark = session(settings.master).newSession()
    for key, value in properties.items():
        spark.conf.set(key, value)
    staging = Path(tempfile.mkdtemp(prefix="reconciler-spark-", dir=settings.staging or None))
    try:
        for table in prepared.tables:
            _register(spark, table, staging)
        return _run(spark, statement, bounds)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def export(prepared: Prepared, path: Path, result_format: str, settings: SparkSettings | None = None) -> int:
    """Run on Spark and write the rows to ``path`` as CSV or Parquet (as ``run.write`` does)."""
    return write(execute(prepared, settings), path, result_format)


def _register(spark: Any, table: Any, staging: Path) -> None:
    if not table.data:
        raise DataError(f"table {table.name!r} has no local data", code="RESOURCE_NOT_FOUND")
    path = Path(table.data).resolve()
    if not path.is_file():
        raise DataError(
            f"local data file {path} of table {table.name!r} does not exist", code="RESOURCE_NOT_FOUND"
        )
    columns = visible_columns(table)
    if path.suffix.lower() not in (".parquet", ".pq"):
        path = _to_parquet(path, columns, staging / f"{uuid.uuid4().hex}.parquet")
    try:
        frame = spark.read.parquet(str(path)).select(*[f"`{c}`" for c in columns])
    except Exception as exc:
        raise DataError(
            f"local data {path} does not match table {table.name!r}: {str(exc).strip().splitlines()[0][:200]}"
        ) from None
    frame.createOrReplaceTempView(table.name)


def _to_parquet(source: Path, columns: list[str], target: Path) -> Path:
    """CSV as DuckDB reads it (the default engine's types), written as Parquet for Spark."""
    quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    literal = "'" + str(source).replace("'", "''") + "'"
    out = "'" + str(target).replace("'", "''") + "'"
    with duckdb.connect(config={"autoload_known_extensions": False}) as con:
        try:
            con.execute(f"COPY (SELECT {quoted} FROM read_csv({literal})) TO {out} (FORMAT parquet)")
        except duckdb.Error as exc:
            raise DataError(f"cannot read local data file {source}: {str(exc).splitlines()[0]}") from None
    return target


def _run(spark: Any, statement: str, bounds: ExecutionLimits) -> Result:
    context = spark.sparkContext
    group = f"reconciler-{uuid.uuid4().hex}"
    fired = threading.Event()

    def cancel() -> None:
        fired.set()
        context.cancelJobGroup(group)

    timer = threading.Timer(bounds.timeout_seconds, cancel)
    timer.daemon = True
    context.setJobGroup(group, "protected query", interruptOnCancel=True)
    try:
        timer.start()
        frame = _planned(spark, statement)
        names, fetched, types = _columns(frame)
        rows = fetched.take(bounds.rows + 1)
    except DataError:
        raise
    except Exception as exc:
        raise _failed(exc, fired.is_set(), bounds) from None
    finally:
        timer.cancel()
        context.setLocalProperty("spark.jobGroup.id", None)
    if len(rows) > bounds.rows:
        raise DataError(
            f"the query returned more than the local engine's limit of {bounds.rows:,} rows",
            hint="aggregate further, or raise RECONCILER_QUERY_ROWS",
            code="INSUFFICIENT_COMPUTE",
        )
    instants = [_instant(f.dataType) for f in frame.schema.fields]
    return Result(names, types, tuple(_row(r, instants) for r in rows))


def _planned(spark: Any, statement: str) -> Any:
    try:
        frame = spark.sql(statement)
        frame.schema  # noqa: B018 - analysis errors (no row read yet) surface here
    except Exception as exc:
        if type(exc).__name__ in ("AnalysisException", "ParseException"):
            raise DataError(
                f"the query failed: {str(exc).strip().splitlines()[0][:300]}", code="MALFORMED_QUERY"
            ) from None
        raise
    return frame


def _failed(exc: Exception, timed_out: bool, bounds: ExecutionLimits) -> DataError:
    if timed_out:
        return DataError(
            f"the query ran longer than the local engine's limit of {bounds.timeout_seconds:g} s "
            "and was stopped",
            hint="raise RECONCILER_QUERY_TIMEOUT, or run it on less data",
            code="INSUFFICIENT_COMPUTE",
        )
    kind = type(exc).__name__
    return DataError(
        f"the query failed while reading rows on Spark ({kind[:60]}); Spark's message is withheld"
        " because it can quote values the rules do not let the query return",
        code="INTERNAL_ERROR",
    )


def _columns(frame: Any) -> tuple[tuple[str, ...], Any, tuple[str, ...]]:
    """Output names, the frame to fetch (columns renamed by position, since names may repeat; a
    TIMESTAMP as microseconds, which pyspark would turn into the machine's local time), and
    DuckDB's name of each Spark type."""
    from pyspark.sql import functions

    fields = frame.schema.fields
    names = tuple(f.name for f in fields)
    types = tuple(_duckdb_type(f.dataType) for f in fields)
    renamed = frame.toDF(*[f"c{i}" for i in range(len(fields))])
    columns = [
        functions.unix_micros(functions.col(f"c{i}")) if _instant(f.dataType) else functions.col(f"c{i}")
        for i, f in enumerate(fields)
    ]
    return names, renamed.select(*columns), types


def _instant(kind: Any) -> bool:
    return type(kind).__name__ == "TimestampType"


#: Spark's TIMESTAMP is an instant shown in the session time zone (UTC): DuckDB's TIMESTAMP, naive.
_EPOCH = dt.datetime(1970, 1, 1)


def _row(row: Any, instants: list[bool]) -> tuple[Any, ...]:
    return tuple(
        (_EPOCH + dt.timedelta(microseconds=v) if v is not None else None) if instant else _value(v)
        for v, instant in zip(row, instants, strict=True)
    )


def _value(value: Any) -> Any:
    """Spark's Python values as DuckDB's: a struct as a dict, binary as bytes."""
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, tuple) and hasattr(value, "asDict"):
        return {k: _value(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {_value(k): _value(v) for k, v in value.items()}
    return value


_ATOMIC: Mapping[str, str] = {
    "BooleanType": "BOOLEAN",
    "ByteType": "TINYINT",
    "ShortType": "SMALLINT",
    "IntegerType": "INTEGER",
    "LongType": "BIGINT",
    "FloatType": "FLOAT",
    "DoubleType": "DOUBLE",
    "StringType": "VARCHAR",
    "VarcharType": "VARCHAR",
    "CharType": "VARCHAR",
    "BinaryType": "BLOB",
    "DateType": "DATE",
    "TimestampType": "TIMESTAMP",
    "TimestampNTZType": "TIMESTAMP",
    "NullType": "INTEGER",
}


def _duckdb_type(kind: Any) -> str:
    """DuckDB's name for a Spark type (``run.write`` creates the result table with it)."""
    name = type(kind).__name__
    if name in _ATOMIC:
        return _ATOMIC[name]
    if name == "DecimalType":
        return f"DECIMAL({kind.precision},{kind.scale})"
    if name == "ArrayType":
        return f"{_duckdb_type(kind.elementType)}[]"
    if name == "MapType":
        return f"MAP({_duckdb_type(kind.keyType)}, {_duckdb_type(kind.valueType)})"
    if name == "StructType":
        fields = ", ".join(f'"{f.name}" {_duckdb_type(f.dataType)}' for f in kind.fields)
        return f"STRUCT({fields})"
    return "VARCHAR"
