"""Running a PySpark analysis template's entry point on the sealed local Spark session.

AWS's contract for the user script (the user guide's "Creating a user script"): it defines
``entrypoint(context)``; ``context`` holds ``sparkSession``, ``referencedTables`` (association
name -> DataFrame) and ``analysisParameters``; it returns ``{"results": {name: DataFrame}}``,
and Clean Rooms writes each DataFrame to the result receiver's S3 location.

Here the script runs in a fresh child of the sealed session (``session.session``: ANSI, UTC, an
in-memory catalog, no SQL on files, a loopback driver). Each referenced table is a DataFrame of
its allowed columns only, read from its local file; nothing else is registered. The result
DataFrames are collected within the local engine's row and time limits and written as CSV.

What cannot be reproduced, and is said so here and in the README: AWS runs the script in an
isolated "user space" (EMR Serverless fine-grained access control) where it cannot reach S3,
Glue, the network, or Spark's system APIs. Locally the script is ordinary Python in this process,
with this user's privileges: the emulator runs only the script whose sha256 the template
pinned (the stack's own file), and it enforces what the API decides (which tables the script is
given, who receives results, where they land), not what the code could do besides.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.engine.run import DataError, Result, limits, write
from reconciler.engine.spark import session as spark_session
from reconciler.engine.spark.properties import validate

__all__ = ["JobTable", "run_entry_point"]


@dataclasses.dataclass(frozen=True)
class JobTable:
    """One table a job may read: its association name, the columns it may see, and its local file."""

    name: str
    columns: tuple[str, ...]
    data: str


def run_entry_point(
    script: Path,
    tables: Sequence[JobTable],
    parameters: Mapping[str, str],
    out_dir: Path,
    *,
    properties: Mapping[str, str] | None = None,
    master: str = spark_session.DEFAULT_MASTER,
) -> dict[str, Path]:
    """Run ``entrypoint(context)`` of ``script`` and write each result DataFrame as CSV in ``out_dir``.

    Returns:
        Result name -> the CSV file written.

    Raises:
        DataError: the script does not load, has no ``entrypoint``, fails, returns something
            other than ``{"results": {name: DataFrame}}``, or a result is over the row limit.
    """
    try:
        checked = validate(dict(properties or {}))
    except ValueError as exc:
        raise DataError(str(exc), code="INVALID_RESOURCE") from None
    spark = spark_session.session(master).newSession()
    for key, value in checked.items():
        spark.conf.set(key, value)
    staging = Path(tempfile.mkdtemp(prefix="reconciler-job-"))
    try:
        frames = {t.name: _frame(spark, t, staging) for t in tables}
        entry = _entry_point(script)
        context = {"sparkSession": spark, "referencedTables": frames, "analysisParameters": dict(parameters)}
        return _timed(spark, lambda: _write_results(entry(context), out_dir))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _frame(spark: Any, table: JobTable, staging: Path) -> Any:
    path = Path(table.data)
    if not table.data or not path.is_file():
        raise DataError(f"table {table.name!r} has no local data", code="RESOURCE_NOT_FOUND")
    if path.suffix.lower() not in (".parquet", ".pq"):
        path = spark_session._to_parquet(path, list(table.columns), staging / f"{uuid.uuid4().hex}.parquet")
    try:
        return spark.read.parquet(str(path)).select(*[f"`{c}`" for c in table.columns])
    except Exception as exc:
        raise DataError(
            f"local data of table {table.name!r} does not match it: {str(exc).strip().splitlines()[0][:200]}"
        ) from None


def _entry_point(script: Path) -> Any:
    """The script's ``entrypoint`` function, from a fresh module (nothing shared between jobs)."""
    try:
        code = compile(script.read_bytes(), str(script), "exec")
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"the job's entry point does not load: {exc}", code="INVALID_RESOURCE") from None
    module = types.ModuleType(f"reconciler_job_{uuid.uuid4().hex}")
    module.__file__ = str(script)
    try:
        exec(code, module.__dict__)  # noqa: S102 - the template's own script, pinned by its sha256
    except Exception as exc:
        raise DataError(
            f"the job's entry point failed while loading ({type(exc).__name__})", code="INVALID_RESOURCE"
        ) from None
    entry = getattr(module, "entrypoint", None)
    if not callable(entry):
        raise DataError(
            "the job's entry point defines no entrypoint(context) function",
            hint="AWS calls entrypoint(context) and writes the DataFrames of its returned {'results': {...}}",
            code="INVALID_RESOURCE",
        )
    return entry


def _timed(spark: Any, run: Callable[[], dict[str, Path]]) -> dict[str, Path]:
    """Run the entry point and collect its results under the engine's time limit (Spark jobs are
    cancelled after it)."""
    bounds = limits()
    timeout = (
        bounds.timeout_seconds
        if "RECONCILER_QUERY_TIMEOUT" in os.environ
        else spark_session.SPARK_TIMEOUT_SECONDS
    )
    group = f"reconciler-job-{uuid.uuid4().hex}"
    fired = threading.Event()
    sc = spark.sparkContext

    def cancel() -> None:
        fired.set()
        sc.cancelJobGroup(group)

    timer = threading.Timer(timeout, cancel)
    timer.daemon = True
    sc.setJobGroup(group, "protected job", interruptOnCancel=True)
    try:
        timer.start()
        return run()
    except DataError:
        raise
    except Exception as exc:
        if fired.is_set():
            raise DataError(
                f"the job ran longer than the local engine's limit of {timeout:g} s and was stopped",
                code="INSUFFICIENT_COMPUTE",
            ) from None
        # The text of the script's exception can quote row values: only its type is reported.
        raise DataError(
            f"the job's entry point failed ({type(exc).__name__}); its message is withheld because it can "
            "quote values",
            code="INVALID_RESOURCE",
        ) from None
    finally:
        timer.cancel()


def _write_results(returned: Any, out_dir: Path) -> dict[str, Path]:
    results = returned.get("results") if isinstance(returned, dict) else None
    if not isinstance(results, dict) or not results:
        raise DataError(
            "the job's entry point must return {'results': {name: DataFrame, ...}} with at least one result",
            code="INVALID_RESOURCE",
        )
    bounds = limits()
    written: dict[str, Path] = {}
    for name, frame in results.items():
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise DataError(f"result name {name!r} is not a plain file name", code="INVALID_RESOURCE")
        if not hasattr(frame, "schema") or not hasattr(frame, "take"):
            raise DataError(f"result {name!r} is not a DataFrame", code="INVALID_RESOURCE")
        try:
            names, fetched, types_ = spark_session._columns(frame)
            rows = fetched.take(bounds.rows + 1)
        except Exception as exc:
            raise DataError(
                f"result {name!r} failed while reading rows on Spark ({type(exc).__name__}); the message is "
                "withheld because it can quote values",
                code="INVALID_RESOURCE",
            ) from None
        if len(rows) > bounds.rows:
            raise DataError(
                f"result {name!r} has more than the local engine's limit of {bounds.rows:,} rows",
                code="INSUFFICIENT_COMPUTE",
            )
        instants = [spark_session._instant(f.dataType) for f in frame.schema.fields]
        result = Result(names, types_, tuple(spark_session._row(r, instants) for r in rows))
        path = out_dir / f"{name}.csv"
        write(result, path, "CSV")
        written[name] = path
    return written
