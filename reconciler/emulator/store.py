"""The emulator's state: an in-memory index of JSON records, written through to a DuckDB file.

Every record is ``(kind, id) -> dict`` in the API's own shape (timestamps as epoch seconds;
internal fields start with ``_``, e.g. ``_account`` for the owning account). Reads come from the
in-memory index; a call's writes are applied to the index as they happen and flushed to DuckDB
in one transaction by ``commit()`` before the response is sent, so a crash right after a write
keeps it, and a failed call is undone by ``rollback()``.

One process at a time may hold a DuckDB file. ``Store.open`` waits a bounded time for another
process to let go, then raises ``LocalBackendLockedError`` naming the file and the holder's pid.
Within one process, ``Store.open`` on the same file returns the same Store (reference-counted),
so two ``connect()`` objects never see different states.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from reconciler.emulator.errors import LocalBackendError, LocalBackendLockedError
from reconciler.errors import why_unusable

__all__ = ["REGION", "Record", "Regional", "Store"]

Record = dict[str, Any]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS records (kind VARCHAR, id VARCHAR, body VARCHAR, PRIMARY KEY (kind, id))"
)
_OPEN_STORES: dict[str, Store] = {}
_OPEN_LOCK = threading.Lock()
_MISSING: Any = object()
_INSERT = "INSERT INTO records VALUES (?, ?, ?)"
_UPDATE = "UPDATE records SET body = ? WHERE kind = ? AND id = ?"
_DELETE = "DELETE FROM records WHERE kind = ? AND id = ?"


class Store:
    """Records by kind and id, with an ARN index; write-through to DuckDB per call.

    Use ``Store.open(path)``; ``path=None`` keeps everything in memory.
    """

    def __init__(self, path: Path | None, connection: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._db = connection
        self._refs = 0
        self._data: dict[str, dict[str, Record]] = {}
        self._arns: dict[str, tuple[str, str]] = {}
        #: (kind, fields) -> values -> ids, built by the first ``find`` or ``count`` on those fields
        #: (all of a call's hashable ones, together) and kept up to date by every write: a lookup
        #: costs what it finds and a count nothing, not the size of the kind (a quota check by
        #: scanning made every create cost the number of records before it: a first apply of
        #: 10,000 resources was quadratic).
        self._by_field: dict[_IndexKey, dict[tuple[Any, ...], dict[str, None]]] = {}
        self._field_of: dict[_IndexKey, dict[str, tuple[Any, ...]]] = {}
        self._seq: dict[str, dict[str, int]] = {}  # kind -> id -> insertion number (``find``'s order)
        self._counter = 0
        self._undo: list[tuple[str, str, Any]] = []
        self._dirty: dict[tuple[str, str], Record | None] = {}
        self._db.execute(_SCHEMA)
        for kind, rid, body in self._db.execute("SELECT kind, id, body FROM records").fetchall():
            self._index(kind, rid, json.loads(body))

    @classmethod
    def open(cls, path: Path | None, *, lock_timeout: float = 5.0) -> Store:
        """Open (or share, within this process) the store at ``path``.

        Args:
            path: the DuckDB file (parent directories are created), or None for memory only.
            lock_timeout: seconds to wait for another process holding the file.

        Returns:
            The Store; call ``close()`` once per ``open``.

        Raises:
            LocalBackendLockedError: another process still holds the file after ``lock_timeout``.
        """
        if path is None:
            store = cls(None, duckdb.connect(":memory:"))
            store._refs = 1
            return store
        key = str(path.resolve())
        with _OPEN_LOCK:
            shared = _OPEN_STORES.get(key)
            if shared is None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise _unusable(path, why_unusable(path, exc)) from None
                shared = cls(path, _connect_waiting(path, lock_timeout))
                _OPEN_STORES[key] = shared
            shared._refs += 1
            return shared

    def close(self) -> None:
        """Release this handle; the DuckDB file is closed when the last handle goes."""
        with _OPEN_LOCK:
            self._refs -= 1
            if self._refs > 0:
                return
            if self.path is not None:
                _OPEN_STORES.pop(str(self.path.resolve()), None)
            self._db.close()

    # -- reads -------------------------------------------------------------------------------

    def get(self, kind: str, rid: str) -> Record | None:
        """The record of ``kind`` with id ``rid``, or None."""
        return self._data.get(kind, {}).get(rid)

    def all(self, kind: str) -> Iterator[Record]:
        """Every record of ``kind`` (insertion order)."""
        return iter(list(self._data.get(kind, {}).values()))

    def find(self, kind: str, **equal: Any) -> list[Record]:
        """Records of ``kind`` whose fields equal the given values (insertion order).

        ``REGION`` (``_region``) may be given as a field: the Region in the record's ARN (None
        for a record without one).
        """
        records = self._data.get(kind, {})
        exact = {k: v for k, v in equal.items() if _hashable(v)}
        rest = {k: v for k, v in equal.items() if k not in exact}
        if not exact:
            return [r for r in records.values() if all(r.get(k) == v for k, v in rest.items())]
        ids = self._bucket(kind, exact)
        ranked = sorted(ids, key=self._seq[kind].__getitem__) if len(ids) > 1 else list(ids)
        found = [records[rid] for rid in ranked]
        return [r for r in found if all(r.get(k) == v for k, v in rest.items())] if rest else found

    def count(self, kind: str, **equal: Any) -> int:
        """How many records ``find`` would return, without building them when it can."""
        if equal and all(_hashable(v) for v in equal.values()):
            return len(self._bucket(kind, equal))
        return len(self.find(kind, **equal))

    def _bucket(self, kind: str, equal: dict[str, Any]) -> dict[str, None]:
        names = tuple(sorted(equal))
        key = (kind, names)
        if key not in self._by_field:
            self._by_field[key], self._field_of[key] = {}, {}
            for rid, record in self._data.get(kind, {}).items():
                self._file(key, rid, record)
        return self._by_field[key].get(tuple(equal[n] for n in names), {})

    def _file(self, key: _IndexKey, rid: str, record: Record | None) -> None:
        """Move ``rid`` to the bucket of its record's values (or out of every bucket: None)."""
        by_value, of_id = self._by_field[key], self._field_of[key]
        if rid in of_id:
            old = of_id.pop(rid)
            bucket = by_value.get(old)
            if bucket is not None:
                bucket.pop(rid, None)
                if not bucket:
                    del by_value[old]
        if record is not None:
            values = tuple(_field(record, name) for name in key[1])
            if all(_hashable(v) for v in values):
                of_id[rid] = values
                by_value.setdefault(values, {})[rid] = None

    def by_arn(self, arn: str) -> tuple[str, Record] | None:
        """The ``(kind, record)`` with this ARN, or None."""
        hit = self._arns.get(arn)
        if hit is None:
            return None
        record = self.get(*hit)
        return None if record is None else (hit[0], record)

    # -- writes (inside one call; commit or rollback at the end) ----------------------------

    def put(self, kind: str, rid: str, record: Record) -> None:
        """Insert or replace a record (visible at once; durable at ``commit``)."""
        self._undo.append((kind, rid, self._data.get(kind, {}).get(rid, _MISSING)))
        self._index(kind, rid, record)
        self._dirty[(kind, rid)] = record

    def delete(self, kind: str, rid: str) -> None:
        """Remove a record if present."""
        old = self._data.get(kind, {}).get(rid, _MISSING)
        if old is _MISSING:
            return
        self._undo.append((kind, rid, old))
        self._unindex(kind, rid)
        self._dirty[(kind, rid)] = None

    @property
    def has_pending_writes(self) -> bool:
        """True when the current call changed something not yet committed."""
        return bool(self._dirty)

    def commit(self) -> None:
        """Flush this call's writes to DuckDB in one transaction.

        A record new to the file is INSERTed and a known one UPDATEd by its key: DuckDB's
        ``INSERT OR REPLACE`` costs more the larger the table grows, which made a first apply of
        thousands of resources superlinear.
        """
        if not self._dirty:
            self._undo.clear()
            return
        before: dict[tuple[str, str], Any] = {}
        for kind, rid, old in self._undo:
            before.setdefault((kind, rid), old)  # the first undo entry is what the file holds
        statements: list[tuple[str, tuple[str, ...]]] = []
        for (kind, rid), record in self._dirty.items():
            known = before.get((kind, rid), _MISSING) is not _MISSING
            if record is None:
                if known:
                    statements.append((_DELETE, (kind, rid)))
                continue
            body = json.dumps(record, separators=(",", ":"))
            statements.append((_UPDATE, (body, kind, rid)) if known else (_INSERT, (kind, rid, body)))
        db = self._db
        # One row (most calls): the statement is its own transaction; BEGIN and COMMIT around it
        # were a third of a create's time in DuckDB.
        single = len(statements) == 1
        try:
            if not single:
                db.execute("BEGIN TRANSACTION")
            for sql, row in statements:
                db.execute(sql, row)
            if not single:
                db.execute("COMMIT")
        except BaseException:
            if not single:
                db.execute("ROLLBACK")
            self.rollback()
            raise
        self._dirty.clear()
        self._undo.clear()

    def rollback(self) -> None:
        """Undo this call's writes in memory (nothing reached DuckDB)."""
        for kind, rid, old in reversed(self._undo):
            if old is _MISSING:
                self._unindex(kind, rid)
            else:
                self._index(kind, rid, old)
        self._undo.clear()
        self._dirty.clear()

    # -- internals ---------------------------------------------------------------------------

    def _index(self, kind: str, rid: str, record: Record) -> None:
        old = self._data.setdefault(kind, {}).get(rid)
        if rid not in self._data[kind]:
            self._counter += 1
            self._seq.setdefault(kind, {})[rid] = self._counter
        if old is not None and old.get("arn") and old.get("arn") != record.get("arn"):
            self._arns.pop(old["arn"], None)
        self._data[kind][rid] = record
        for key in self._by_field:
            if key[0] == kind:
                self._file(key, rid, record)
        arn = record.get("arn")
        if isinstance(arn, str):
            self._arns[arn] = (kind, rid)

    def _unindex(self, kind: str, rid: str) -> None:
        old = self._data.get(kind, {}).pop(rid, None)
        self._seq.get(kind, {}).pop(rid, None)
        for key in self._by_field:
            if key[0] == kind:
                self._file(key, rid, None)
        if old is not None and isinstance(old.get("arn"), str):
            self._arns.pop(old["arn"], None)


#: A field ``find`` and ``count`` accept that no record holds: the Region of the record's ARN.
REGION = "_region"

_IndexKey = tuple[str, tuple[str, ...]]


def _field(record: Record, name: str) -> Any:
    return _region_of(record) if name == REGION else record.get(name)


def _region_of(record: Record | None) -> str | None:
    """The Region in the record's ARN ("" for a malformed one), or None without an ARN."""
    arn = record.get("arn") if record is not None else None
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 4)
    return parts[3] if len(parts) > 3 else ""


def _hashable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def _unusable(path: Path, reason: str) -> LocalBackendError:
    """The local backend file cannot be opened for a reason other than another process's lock."""
    return LocalBackendError(
        f"the local backend file {path} cannot be used: {reason}",
        hint=f"move {path.parent} aside (or delete it to start over: the local backend forgets "
        "everything it held), then run the command again",
    )


def _connect_waiting(path: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, retrying while another process holds its lock."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise _unusable(path, text.splitlines()[0]) from None
            if time.monotonic() >= deadline:
                pid = re.search(r"PID (\d+)", text)
                holder = f" (held by process {pid.group(1)})" if pid else ""
                raise LocalBackendLockedError(
                    f"the local backend file {path} is in use by another process{holder}",
                    hint="wait for the other reconciler command to finish, or point this one at another "
                    "file; only one process at a time can use a local backend file",
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


class Regional:
    """What one region's calls see of a Store: records with an ARN of another region are absent.

    Clean Rooms resources are regional: a collaboration made in ``us-west-2`` is not listed, read
    or referenced by calls to ``us-east-1``. Records without an ARN (members, rules) are reached
    only through a regional parent. Writes go to the Store itself.
    """

    def __init__(self, store: Store, region: str) -> None:
        self._store = store
        self._region = region

    def _here(self, record: Record | None) -> bool:
        return _region_of(record) in (None, self._region)

    def get(self, kind: str, rid: str) -> Record | None:
        record = self._store.get(kind, rid)
        return record if self._here(record) else None

    def all(self, kind: str) -> Iterator[Record]:
        return iter([r for r in self._store.all(kind) if self._here(r)])

    def find(self, kind: str, **equal: Any) -> list[Record]:
        return [r for r in self._store.find(kind, **equal) if self._here(r)]

    def count(self, kind: str, **equal: Any) -> int:
        """Records here: those of this Region's ARNs and those without an ARN."""
        return sum(self._store.count(kind, **equal, **{REGION: region}) for region in (self._region, None))

    def by_arn(self, arn: str) -> tuple[str, Record] | None:
        hit = self._store.by_arn(arn)
        return hit if hit is not None and self._here(hit[1]) else None

    def put(self, kind: str, rid: str, record: Record) -> None:
        self._store.put(kind, rid, record)

    def delete(self, kind: str, rid: str) -> None:
        self._store.delete(kind, rid)
