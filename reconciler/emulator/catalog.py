"""A stand-in for the AWS Glue Data Catalog: table references bound to local CSV/Parquet files.

A configured table names ``tableReference.glue.{databaseName, tableName}``; locally, that pair
(per account) is bound to a file with ``Catalog.register``. The binding, the file's columns (read
with DuckDB) and what identifies its content (size, modification time, sha256) are persisted in
the emulator's store, so they survive restarts; ``Catalog.current`` tells whether the file still
holds what was read (a column added to a CSV is a new schema). Schemas use these column types;
protected queries read the files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from reconciler.emulator.errors import LocalBackendError
from reconciler.emulator.store import Store

__all__ = ["Catalog", "CatalogEntry"]

_KIND = "catalog_table"
_READERS = {".csv": "read_csv_auto", ".parquet": "read_parquet", ".pq": "read_parquet"}


@dataclass(frozen=True)
class CatalogEntry:
    """One catalog table: who owns it, its Glue name, the local file, and its columns."""

    account_id: str
    database: str
    table: str
    path: Path
    columns: tuple[tuple[str, str], ...]
    stat: tuple[int, int] = (0, 0)  # (size, mtime_ns) when its columns were read
    digest: str = ""  # sha256 of the file when its columns were read ("" in older records)

    @property
    def column_types(self) -> dict[str, str]:
        """Column name -> Glue-style type name (lower case)."""
        return dict(self.columns)


class Catalog:
    """Register and look up local tables by ``(account_id, database, table)``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def register(self, account_id: str, database: str, table: str, path: str | Path) -> CatalogEntry:
        """Bind a Glue table reference of ``account_id`` to a local CSV or Parquet file.

        Args:
            account_id: the 12-digit account that owns the Glue table.
            database: the Glue database name.
            table: the Glue table name.
            path: a ``.csv`` or ``.parquet`` file.

        Returns:
            The entry, with the file's columns.

        Raises:
            LocalBackendError: the file is missing or not CSV/Parquet.
        """
        file = Path(path).resolve()
        reader = _READERS.get(file.suffix.lower())
        if reader is None:
            raise LocalBackendError(
                f"cannot register {file}: only .csv and .parquet files can back a local table",
                hint="convert the data to CSV or Parquet",
            )
        if not file.is_file():
            raise LocalBackendError(f"cannot register {file}: no such file")
        with duckdb.connect(":memory:") as db:
            described = db.execute(f"DESCRIBE SELECT * FROM {reader}(?)", [str(file)]).fetchall()
        columns = tuple((str(row[0]).lower(), _glue_type(str(row[1]))) for row in described)
        stat, digest = file_stat(file), file_digest(file)
        entry = CatalogEntry(account_id, database, table, file, columns, stat, digest)
        record = {
            "accountId": account_id,
            "databaseName": database,
            "tableName": table,
            "path": str(file),
            "columns": [{"name": n, "type": t} for n, t in columns],
            "stat": list(stat),
            "sha256": digest,
        }
        with self._store.lock:
            self._store.put(_KIND, _key(account_id, database, table), record)
            self._store.commit()
        return entry

    def lookup(self, account_id: str, database: str, table: str) -> CatalogEntry | None:
        """The entry for this account's ``database.table``, or None if nothing is registered."""
        record = self._store.get(_KIND, _key(account_id, database, table))
        if record is None:
            return None
        columns = tuple((c["name"], c["type"]) for c in record["columns"])
        stat = tuple(record.get("stat") or (0, 0))
        return CatalogEntry(
            account_id,
            database,
            table,
            Path(record["path"]),
            columns,
            (stat[0], stat[1]),
            record.get("sha256", ""),
        )

    def current(self, entry: CatalogEntry, path: Path, *, recheck: bool = False) -> bool:
        """Whether ``entry`` was read from ``path`` as it is now (same file, same content).

        The content hash decides; the size and modification time only spare hashing a file that
        has not been touched since (``recheck`` hashes anyway).
        """
        file = path.resolve()
        if entry.path != file or not entry.digest or not file.is_file():
            return False
        if not recheck and entry.stat == file_stat(file):
            return True
        return entry.digest == file_digest(file)


def file_stat(path: Path) -> tuple[int, int]:
    """(size, mtime_ns) of a file: a cheap "has it been touched" check."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def file_digest(path: Path) -> str:
    """The sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _key(account_id: str, database: str, table: str) -> str:
    return f"{account_id}/{database.lower()}/{table.lower()}"


def _glue_type(duckdb_type: str) -> str:
    base = duckdb_type.upper()
    names = {
        "VARCHAR": "string",
        "BIGINT": "bigint",
        "INTEGER": "int",
        "SMALLINT": "smallint",
        "TINYINT": "tinyint",
        "DOUBLE": "double",
        "FLOAT": "float",
        "BOOLEAN": "boolean",
        "DATE": "date",
        "TIMESTAMP": "timestamp",
    }
    if base.startswith("DECIMAL"):
        return base.lower()
    return names.get(base, base.lower())
