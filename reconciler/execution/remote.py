"""Remote state and lock for CI runners: the state cache and the stack lock in S3 or DynamoDB.

The local files (``.reconciler/state.json`` and a ``flock`` lock) keep apart applies that share
a directory. Two CI runners with separate checkouts share nothing local, and an ephemeral runner
starts with an empty ``.reconciler/``; with ``kind: RemoteState`` in the stack (or
``RECONCILER_STATE=s3://bucket/prefix`` / ``dynamodb://table``) they share a store:

- **Objects.** Per stack and backend three kinds of blob, under ``PREFIX/BACKEND/STACK``:
  ``.json`` (the state document, the local file's format), ``.lock`` (the holder record) and
  ``.journal/NNNNNN`` (one per applied step). In S3 they are objects; in DynamoDB items of a
  table whose partition key is the string ``LockID`` (Terraform's lock-table schema), with the
  bytes in ``data`` and a ``version`` number.
- **Every write is conditional.** S3: ``IfNoneMatch="*"`` to create, ``IfMatch=<ETag read>`` to
  replace or delete (S3's conditional writes, 2024, and deletes, 2025); DynamoDB:
  ``attribute_not_exists(LockID)`` or ``version = :read``. So a write that would overwrite
  another runner's is refused by the store and reported (``StateConflict``): a lost update is
  detected, never made.
- **The lock** is a blob created with the create-only condition: one runner wins, the other
  waits (``--lock-timeout``) and fails naming the holder. The holder renews a lease in it
  (every ``lease / 3`` seconds), so a lock whose holder was killed is told from a live one:
  holder gone (its pid not running on the same kernel boot and pid namespace) or lease expired
  means *interrupted*; such a lock is never taken over silently: the next apply fails saying
  so, and ``reconciler state unlock`` clears it (``--force`` also a live holder's). A holder
  that finds its lock broken (its lease renewal refused) stops writing; the steps it journaled
  before noticing stay in the journal and are replayed by the next load, which is right: it did
  make those resources.
- **Crash safety: one journal blob per step.** As with the local journal, each step's result is
  written when the step ends, as a blob of its own created with ``IfNoneMatch``: constant cost
  per step, and a killed apply leaves every finished step recorded. A load reads the document,
  then the journal blobs ``000000, 000001, ...`` until one is missing, and replays them; the
  apply's final save writes the document (conditionally) and deletes the journal. (Pushing the
  whole document per step would make a large apply quadratic in bytes.)
- **Only the lock holder writes.** A command without the lock (``plan``, ``state list``) reads
  the remote state and writes none of it, so a plan during another runner's apply cannot make
  that apply's final save conflict.

The state is a cache: identity lives in the resources' tags, so what the remote state adds is
what tags cannot say (members of accounts that left the spec, regions a collaboration was moved
from) and what a user wants to see on any runner (``state list``). Credentials and region come
from boto3's standard chain; ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL_DYNAMODB`` (read by
botocore itself) point it elsewhere, as the tests point it at moto on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.errors import StateError
from reconciler.execution.lock import HELD_HINT, Holder, LockHeld, holder_of
from reconciler.execution.state import STATE_FORMAT_VERSION, State, StateCache, document_text

__all__ = [
    "ENV_VAR",
    "LEASE_VAR",
    "Blob",
    "RemoteLock",
    "RemoteStateCache",
    "RemoteStateError",
    "StateConflict",
    "StateStore",
    "StoreConfig",
    "break_remote_lock",
    "configured",
    "hold_remote",
    "open_store",
]

#: The environment variable naming the store: ``s3://bucket/prefix`` or ``dynamodb://table``.
ENV_VAR = "RECONCILER_STATE"
#: Seconds a lock's lease lasts without renewal (default 60; the holder renews every third of it).
LEASE_VAR = "RECONCILER_STATE_LEASE"
_DEFAULT_LEASE = 60.0


class RemoteStateError(StateError):
    """The remote state store cannot be used: missing bucket or table, access denied, no network."""


class StateConflict(StateError):
    """Another runner wrote the remote state (or broke the lock) since this one read it; nothing is lost."""


@dataclass(frozen=True)
class StoreConfig:
    """Where the remote state lives.

    Args:
        kind: ``s3`` or ``dynamodb``.
        name: the bucket or the table.
        prefix: the S3 key prefix ("" for none).
        region: the region (None: boto3's chain).
    """

    kind: str
    name: str
    prefix: str = ""
    region: str | None = None

    @property
    def url(self) -> str:
        """``s3://bucket/prefix`` or ``dynamodb://table``."""
        scheme = "s3" if self.kind == "s3" else "dynamodb"
        return f"{scheme}://{self.name}" + (f"/{self.prefix}" if self.prefix else "")

    @classmethod
    def parse(cls, text: str) -> StoreConfig:
        """Read ``RECONCILER_STATE``: ``s3://bucket[/prefix][?region=R]`` or ``dynamodb://table[?region=R]``.

        >>> StoreConfig.parse("s3://ci-state/reconciler/?region=eu-west-1")
        StoreConfig(kind='s3', name='ci-state', prefix='reconciler', region='eu-west-1')

        Raises:
            StateError: not one of those forms.
        """
        parts = urlsplit(text.strip())
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        unknown = set(query) - {"region"}
        prefix = parts.path.strip("/")
        ok = parts.scheme in ("s3", "dynamodb") and parts.netloc and not unknown
        if not ok or (parts.scheme == "dynamodb" and prefix):
            raise StateError(
                f"{ENV_VAR}={text!r} is not a state store",
                hint="use s3://BUCKET[/PREFIX] or dynamodb://TABLE, optionally with ?region=REGION",
            )
        return cls(parts.scheme, parts.netloc, prefix, query.get("region") or None)


def configured(spec_stores: list[Any], environ: Mapping[str, str] | None = None) -> StoreConfig | None:
    """The store a stack uses: its ``kind: RemoteState`` document and/or ``RECONCILER_STATE``; None: local.

    Both may be given when they name the same place (the region of either fills the other's);
    when they differ it is an error, not a silent choice: runners that disagree would lock
    different objects and no longer be kept apart.

    Args:
        spec_stores: the stack's ``RemoteStateSpec`` documents (``stack.remote_state``).
        environ: the environment (default ``os.environ``).

    Raises:
        StateError: more than one document, a bad variable, or the two disagree.
    """
    env = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    if len(spec_stores) > 1:
        raise StateError(
            f"the stack has {len(spec_stores)} `kind: RemoteState` documents",
            hint="keep one: a stack's state and lock live in one place",
        )
    from_env = StoreConfig.parse(env) if env else None
    from_spec = None
    if spec_stores:
        doc = spec_stores[0]
        name = doc.bucket if doc.backend == "s3" else doc.table
        from_spec = StoreConfig(doc.backend, name, doc.prefix.strip("/"), doc.region)
    if from_env is None or from_spec is None:
        return from_env or from_spec
    if (from_env.kind, from_env.name, from_env.prefix) != (from_spec.kind, from_spec.name, from_spec.prefix):
        raise StateError(
            f"{ENV_VAR}={from_env.url} and the stack's `kind: RemoteState` ({from_spec.url}) name different"
            " state stores",
            hint=f"unset {ENV_VAR} or make it name the same store (runners that disagree are not kept apart)",
        )
    if from_env.region and from_spec.region and from_env.region != from_spec.region:
        raise StateError(
            f"{ENV_VAR} says region {from_env.region}, the stack's `kind: RemoteState` {from_spec.region}",
            hint="make them agree, or leave the region out of one",
        )
    return StoreConfig(from_spec.kind, from_spec.name, from_spec.prefix, from_spec.region or from_env.region)


# -- stores: get, create-or-replace conditionally, delete ------------------------------------------


@dataclass(frozen=True)
class Blob:
    """A stored value and its version (S3's ETag, DynamoDB's ``version``): the next write's condition."""

    data: bytes
    version: str


class StateStore:
    """A key -> bytes store whose writes are all conditional (see the module docstring).

    ``put(key, data, expect=None)`` creates and fails if the key exists; ``expect=VERSION``
    replaces only that version. Both raise ``StateConflict`` when the condition fails.
    """

    config: StoreConfig

    @property
    def url(self) -> str:
        return self.config.url

    def key(self, backend: str, stack: str, suffix: str) -> str:
        """The key of one of the stack's blobs (``ci/local/acme.json``)."""
        base = f"{backend}/{stack}{suffix}"
        return f"{self.config.prefix}/{base}" if self.config.prefix else base

    def get(self, key: str) -> Blob | None:
        raise NotImplementedError

    def put(self, key: str, data: bytes, *, expect: str | None) -> str:
        raise NotImplementedError

    def delete(self, key: str, *, expect: str | None = None) -> None:
        raise NotImplementedError


def _client(service: str, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)
    try:
        return boto3.session.Session().client(service, region_name=region, config=config)
    except Exception as exc:  # noqa: BLE001 - NoRegionError, a bad profile: the user's setup
        raise RemoteStateError(
            f"cannot make an {service} client for the remote state: {exc}",
            hint="set AWS_REGION (or the store's region) and AWS credentials (AWS_PROFILE, ...)",
        ) from None


def _error(store: StateStore, exc: Exception, key: str, action: str) -> StateError:
    """One boto3 failure as the error a user can act on."""
    from botocore.exceptions import ClientError

    where = f"{store.url} ({key})"
    if not isinstance(exc, ClientError):
        return RemoteStateError(
            f"cannot {action} the remote state at {where}: {exc}",
            hint="check the network, AWS credentials and region (and AWS_ENDPOINT_URL_* if set)",
        )
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in ("PreconditionFailed", "ConditionalRequestConflict", "ConditionalCheckFailedException"):
        return StateConflict(
            f"the remote state at {where} was changed by another runner since this one read it;"
            " nothing was overwritten",
            hint="run `reconciler plan` again; if another runner applies this stack, let it finish",
        )
    if code in ("NoSuchBucket", "ResourceNotFoundException"):
        what = "bucket" if store.config.kind == "s3" else "table"
        return RemoteStateError(
            f"the remote state's {what} {store.config.name!r} does not exist ({store.url})",
            hint=f"create it (a DynamoDB table needs partition key LockID, a string), or fix {ENV_VAR}"
            " / the stack's `kind: RemoteState`",
        )
    if code in ("AccessDenied", "AccessDeniedException", "Forbidden") or status == 403:
        return RemoteStateError(
            f"access denied to the remote state at {where} ({action})",
            hint="the credentials need s3:GetObject/PutObject/DeleteObject on the prefix"
            " (dynamodb:GetItem/PutItem/DeleteItem on the table)",
        )
    message = exc.response.get("Error", {}).get("Message", "")
    return RemoteStateError(f"cannot {action} the remote state at {where}: {code} {message}".rstrip())


class S3Store(StateStore):
    """Objects in a bucket; conditions are S3's ``If-None-Match: *`` and ``If-Match: ETAG``."""

    def __init__(self, config: StoreConfig, client: Any = None) -> None:
        self.config = config
        self.client = client or _client("s3", config.region)

    def get(self, key: str) -> Blob | None:
        try:
            out = self.client.get_object(Bucket=self.config.name, Key=key)
            return Blob(out["Body"].read(), str(out["ETag"]))
        except Exception as exc:  # noqa: BLE001 - translated below
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise _error(self, exc, key, "read") from None

    def put(self, key: str, data: bytes, *, expect: str | None) -> str:
        condition = {"IfNoneMatch": "*"} if expect is None else {"IfMatch": expect}
        try:
            out = self.client.put_object(Bucket=self.config.name, Key=key, Body=data, **condition)
        except Exception as exc:  # noqa: BLE001 - translated below
            if expect is not None and _code(exc) == "NoSuchKey":  # replaced a blob someone deleted
                raise _error(self, _conflict(exc), key, "write") from None
            raise _error(self, exc, key, "write") from None
        return str(out["ETag"])

    def delete(self, key: str, *, expect: str | None = None) -> None:
        condition = {"IfMatch": expect} if expect is not None else {}
        try:
            self.client.delete_object(Bucket=self.config.name, Key=key, **condition)
        except Exception as exc:  # noqa: BLE001 - translated below
            if _code(exc) in ("NoSuchKey", "404"):
                if expect is None:
                    return
                raise _error(self, _conflict(exc), key, "delete") from None
            raise _error(self, exc, key, "delete") from None


class DynamoStore(StateStore):
    """Items of a table keyed by ``LockID``; conditions on ``attribute_not_exists`` and ``version``."""

    def __init__(self, config: StoreConfig, client: Any = None) -> None:
        self.config = config
        self.client = client or _client("dynamodb", config.region)

    def get(self, key: str) -> Blob | None:
        try:
            out = self.client.get_item(
                TableName=self.config.name, Key={"LockID": {"S": key}}, ConsistentRead=True
            )
        except Exception as exc:  # noqa: BLE001 - translated below
            raise _error(self, exc, key, "read") from None
        item = out.get("Item")
        if not item:
            return None
        return Blob(bytes(item["data"]["B"]), str(item["version"]["N"]))

    def put(self, key: str, data: bytes, *, expect: str | None) -> str:
        version = 1 if expect is None else int(expect) + 1
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(LockID)"}
            if expect is None
            else {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": {"N": expect}},
            }
        )
        item = {"LockID": {"S": key}, "data": {"B": data}, "version": {"N": str(version)}}
        try:
            self.client.put_item(TableName=self.config.name, Item=item, **condition)
        except Exception as exc:  # noqa: BLE001 - translated below
            raise _error(self, exc, key, "write") from None
        return str(version)

    def delete(self, key: str, *, expect: str | None = None) -> None:
        condition: dict[str, Any] = (
            {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": {"N": expect}},
            }
            if expect is not None
            else {}
        )
        try:
            self.client.delete_item(TableName=self.config.name, Key={"LockID": {"S": key}}, **condition)
        except Exception as exc:  # noqa: BLE001 - translated below
            raise _error(self, exc, key, "delete") from None


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _conflict(exc: Exception) -> Exception:
    """``exc`` (a missing key where a version was expected) as a failed precondition."""
    from botocore.exceptions import ClientError

    failed: Exception = ClientError(
        {"Error": {"Code": "PreconditionFailed", "Message": str(exc)}}, "PutObject"
    )
    return failed


def open_store(config: StoreConfig) -> StateStore:
    """The StateStore for ``config`` (clients from boto3's standard chain)."""
    return S3Store(config) if config.kind == "s3" else DynamoStore(config)


# -- the state cache ---------------------------------------------------------------------------------

_UNREAD = object()


class RemoteStateCache(StateCache):
    """The state cache of one stack on one backend in a StateStore (the local file format, remote bytes).

    Reads anywhere; writes only while ``lock`` is set (``hold_remote`` sets it) and only over
    the version it last read or wrote.
    """

    def __init__(self, store: StateStore, backend: str, stack: str) -> None:
        super().__init__()
        self.store = store
        self.backend = backend
        self.stack = stack
        self.lock: RemoteLock | None = None
        #: The document's version when last read or written (None: it did not exist).
        self._version: str | None | object = _UNREAD
        self._journal_next = 0

    @property
    def location(self) -> str:
        return f"{self.store.url} ({self._document_key})"

    @property
    def _document_key(self) -> str:
        return self.store.key(self.backend, self.stack, ".json")

    def _journal_key(self, n: int) -> str:
        return self.store.key(self.backend, self.stack, f".journal/{n:06d}")

    def _read_document_text(self) -> str | None:
        blob = self.store.get(self._document_key)
        self._version = blob.version if blob else None
        return blob.data.decode("utf-8") if blob else None

    def _journal_lines(self) -> list[str]:
        lines = []
        n = 0
        while (blob := self.store.get(self._journal_key(n))) is not None:
            lines.append(blob.data.decode("utf-8", errors="replace"))
            n += 1
        self._journal_next = n
        return lines

    def _writer(self) -> RemoteLock | None:
        if self.lock is not None and self.lock.lost.is_set():
            raise StateConflict(
                f"the lock of stack {self.stack} at {self.store.url} was broken by another runner while"
                " this one held it (`state unlock --force`?); no more state is written",
                hint="run `reconciler plan` once the other runner has finished",
            )
        return self.lock

    def _append_journal(self, line: str) -> None:
        if self._writer() is None:
            return
        self.store.put(self._journal_key(self._journal_next), line.encode("utf-8"), expect=None)
        self._journal_next += 1

    def _write_document(self, text: str) -> None:
        if self._version is _UNREAD:
            self._read_document_text()  # never read: learn the version to write over
        version = self._version if isinstance(self._version, str) else None
        self._version = self.store.put(self._document_key, text.encode("utf-8"), expect=version)
        for n in range(self._journal_next):
            self.store.delete(self._journal_key(n))
        self._journal_next = 0

    def _load_document(self) -> dict[str, Any]:
        entries = super()._load_document()
        return {k: v for k, v in entries.items() if k == self._key(self.backend, self.stack)}

    def save(self, backend: str, state: State) -> None:
        """Write ``state`` over the version last read or written (``StateConflict`` if it changed since).

        Unlike the local file, the document is not read again first: it holds this stack's
        entry only, and reading it again would take the other runner's version as ours.
        Without the lock, nothing is written (a plan only reads).
        """
        if (backend, state.stack) != (self.backend, self.stack):
            raise StateError(
                f"the remote state of {self.backend}/{self.stack} cannot hold {backend}/{state.stack}"
            )
        with self._lock:
            if self._writer() is None:
                return
            entry = {self._key(backend, state.stack): state.to_json()}
            doc = {"format_version": STATE_FORMAT_VERSION, "entries": entry}
            self._write_document(document_text(doc))


# -- the lock --------------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _lease_seconds(environ: Mapping[str, str] | None = None) -> float:
    text = (os.environ if environ is None else environ).get(LEASE_VAR, "").strip()
    try:
        return max(1.0, float(text)) if text else _DEFAULT_LEASE
    except ValueError:
        raise StateError(f"{LEASE_VAR}={text!r} is not a number of seconds") from None


def _machine() -> str:
    """This kernel's boot and pid namespace: a pid means the same process only where both match.

    CI runners in containers may share a host name (or a kernel, in another pid namespace); then
    a pid check would judge someone else's process, so the lease alone decides.
    """
    parts = []
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return "/".join(parts)


@dataclass(frozen=True)
class _Record:
    """A lock blob: its holder, when its lease ends, where its pid means something, its version."""

    holder: Holder | None
    expires: dt.datetime | None
    version: str
    machine: str = ""

    def interrupted(self) -> str:
        """Why the holder is taken as gone ("" when it may still run)."""
        here = bool(self.machine) and self.machine == _machine()
        if here and self.holder is not None and self.holder.alive() is False:
            return "that process no longer runs"
        if self.expires is not None and self.expires < _now():
            return f"its lease expired at {_stamp(self.expires)} (it stopped renewing it)"
        return ""


def _read_record(store: StateStore, key: str) -> _Record | None:
    blob = store.get(key)
    if blob is None:
        return None
    text = blob.data.decode("utf-8", errors="replace")
    expires, machine = None, ""
    with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError):
        data = json.loads(text)
        machine = str(data.get("machine", ""))
        expires = dt.datetime.strptime(data["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return _Record(holder_of(text), expires, blob.version, machine)


class RemoteLock:
    """A held remote lock: renews its lease in a thread; ``lost`` is set when someone broke it."""

    def __init__(self, store: StateStore, key: str, holder: Holder, lease: float, version: str) -> None:
        self.store, self.key, self.holder, self.lease = store, key, holder, lease
        self.version = version
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="lock-lease", daemon=True)

    def body(self) -> bytes:
        expires = _now() + dt.timedelta(seconds=self.lease)
        record = {**asdict(self.holder), "expires": _stamp(expires), "machine": _machine()}
        return json.dumps(record).encode("utf-8")

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.version = self.store.put(self.key, self.body(), expect=self.version)
            except StateConflict:
                self.lost.set()
                return
            except StateError:
                continue  # a network blip: the lease has two more chances before it ends

    def start(self) -> None:
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if not self.lost.is_set():
            with contextlib.suppress(StateError):
                self.store.delete(self.key, expect=self.version)


def _refusal(store: StateStore, key: str, record: _Record | None, waited: float) -> LockHeld:
    where = f"{store.url} ({key})"
    waited_text = f" (waited {waited:.1f} s)" if waited >= 0.05 else ""
    holder = record.holder if record else None
    who = holder.describe() if holder else "an unreadable holder record"
    gone = record.interrupted() if record else ""
    if gone:
        return LockHeld(
            f"the stack's remote lock {where} is held by {who}, which was interrupted: {gone};"
            " its apply may have stopped halfway",
            holder=holder,
            hint="once you are sure it no longer runs, `reconciler state unlock` removes the lock"
            " (`--force` whatever its state); then `reconciler plan` shows the work it left",
        )
    return LockHeld(
        f"the stack is locked by {who}{waited_text} (remote lock {where})",
        holder=holder,
        hint=HELD_HINT,
    )


@contextlib.contextmanager
def hold_remote(
    cache: RemoteStateCache,
    *,
    timeout: float = 0.0,
    command: str | None = None,
    poll: float = 0.5,
    on_wait: Callable[[Holder | None], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Holder]:
    """Hold the remote lock of ``cache``'s stack for the ``with`` block; ``cache`` may write meanwhile.

    Raises:
        LockHeld: still held after ``timeout`` (or held by an interrupted holder); names it.
        RemoteStateError: the store cannot be used.
    """
    import sys

    store = cache.store
    key = store.key(cache.backend, cache.stack, ".lock")
    me = Holder.me(command if command is not None else " ".join(["reconciler", *sys.argv[1:]])[:300])
    lock = RemoteLock(store, key, me, _lease_seconds(), "")
    start = clock()
    told = False
    while True:
        try:
            lock.version = store.put(key, lock.body(), expect=None)
            break
        except StateConflict:
            record = _read_record(store, key)
            if record is None:
                continue  # released between our put and our read: try again at once
            waited = clock() - start
            if waited >= timeout or record.interrupted():
                raise _refusal(store, key, record, waited) from None
            if not told and on_wait is not None:
                on_wait(record.holder)
                told = True
            sleep(min(poll, timeout - waited))
    lock.start()
    cache.lock = lock
    try:
        yield me
    finally:
        cache.lock = None
        lock.release()


def break_remote_lock(cache: RemoteStateCache, *, force: bool = False) -> Holder | None:
    """Remove the remote lock of an interrupted apply (``force``: also a live holder's); ``state unlock``.

    Returns:
        The holder whose lock was removed, or None when the stack was not locked.

    Raises:
        LockHeld: the holder may still run and ``force`` was not given; nothing was removed.
    """
    store = cache.store
    key = store.key(cache.backend, cache.stack, ".lock")
    for attempt in range(5):
        record = _read_record(store, key)
        if record is None:
            return None
        if not force and not record.interrupted():
            raise _refusal(store, key, record, 0.0)
        try:
            store.delete(key, expect=record.version)  # only the record judged: not a newer one
        except StateConflict:
            if attempt == 4:
                raise
            continue  # the holder renewed its lease (or released) meanwhile: judge it again
        return record.holder or Holder(0, "unknown", "")
    return None  # pragma: no cover - the loop returns or raises
