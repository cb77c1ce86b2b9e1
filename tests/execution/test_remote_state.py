"""Remote state and lock for CI runners (``execution.remote``), against moto's S3 and DynamoDB.

A ``ThreadedMotoServer`` listens on 127.0.0.1 (a free port; stopped by the fixture) and every
runner is a real ``reconciler`` process in a directory of its own, so nothing local (no
``.reconciler/`` state, no ``flock``) is shared: only the remote store keeps them apart and lets
an ephemeral runner see the last state. Each test runs once with S3 and once with DynamoDB.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from reconciler.errors import StateError
from reconciler.execution import remote
from reconciler.execution.state import State
from reconciler.planner.addresses import parse
from reconciler.planner.resource import ObservedResource
from reconciler.workflow.stacks import EXAMPLES

pytest.importorskip("moto")  # a test dependency (pyproject `test` extra): missing means a broken venv
from moto.server import ThreadedMotoServer  # noqa: E402

BIN = Path(sys.executable).parent
STACK = "retail-adtech"
RETAILER, ADTECH = "123456789012", "987654321098"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@dataclass
class Store:
    """One fresh store on the moto server: its URL (``RECONCILER_STATE``) and the environment to reach it."""

    url: str
    env: dict[str, str]

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.env[f"AWS_ENDPOINT_URL_{service.upper()}"])

    def keys(self) -> list[str]:
        """Every key the store holds (S3 object keys, DynamoDB LockIDs)."""
        if self.url.startswith("s3://"):
            bucket, _, prefix = self.url[5:].partition("/")
            listed = self.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
            return sorted(o["Key"] for o in listed.get("Contents", []))
        table = self.url[len("dynamodb://") :]
        return sorted(i["LockID"]["S"] for i in self.client("dynamodb").scan(TableName=table)["Items"])


@pytest.fixture(params=["s3", "dynamodb"])
def store(request: pytest.FixtureRequest, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Store:
    env = {
        "AWS_ENDPOINT_URL_S3": moto_url,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(remote.ENV_VAR, raising=False)
    name = f"ci-{uuid.uuid4().hex[:12]}"
    if request.param == "s3":
        boto3.client("s3", endpoint_url=moto_url).create_bucket(Bucket=name)
        url = f"s3://{name}/reconciler"
    else:
        boto3.client("dynamodb", endpoint_url=moto_url).create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        url = f"dynamodb://{name}"
    return Store(url, {**env, remote.ENV_VAR: url})


def _checkout(root: Path) -> Path:
    """A fresh checkout of a project holding the example stack: no ``.reconciler/`` at all."""
    shutil.copytree(EXAMPLES / STACK, root / "specs" / STACK)
    return root


def _env(store: Store, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "AWS_"))}
    return {**env, **store.env, "PYTHONUNBUFFERED": "1", **extra}


def _reconciler(
    cwd: Path, store: Store, *args: str, timeout: float = 180, **extra: str
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "reconciler"), *args],
        cwd=cwd,
        env=_env(store, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _lock_key(store: Store) -> str:
    prefix = "reconciler/" if store.url.startswith("s3://") else ""
    return f"{prefix}local/{STACK}.lock"


def _wait_for(predicate: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


# -- two runners, one stack ------------------------------------------------------------------------


def test_two_runners_in_separate_checkouts_are_kept_apart(tmp_path: Path, store: Store) -> None:
    first, second = _checkout(tmp_path / "runner-1"), _checkout(tmp_path / "runner-2")
    slow = json.dumps({"latency_ms": 1000})  # every call of the first runner's backend is slow
    holder = subprocess.Popen(
        [str(BIN / "reconciler"), "apply", STACK, "--auto-approve"],
        cwd=first,
        env=_env(store, RECONCILER_LOCAL_FAULTS=slow),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: _lock_key(store) in store.keys() or holder.poll() is not None, "the lock")
        assert holder.poll() is None, holder.communicate()
        refused = _reconciler(second, store, "apply", STACK, "--auto-approve")
        assert refused.returncode == 1
        assert f"the stack is locked by process {holder.pid} on host {socket.gethostname()}" in refused.stderr
        assert "reconciler apply retail-adtech --auto-approve" in refused.stderr  # the holder's command
        assert "Apply complete" not in refused.stdout
        out, err = holder.communicate(timeout=300)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate()
    assert holder.returncode == 0, err
    assert "Apply complete" in out
    assert _lock_key(store) not in store.keys()  # released on exit
    # the second runner, fresh and never applied, sees what the first applied
    listed = _reconciler(second, store, "state", "list", STACK)
    assert listed.returncode == 0, listed.stderr
    assert "collaboration.retail-ad-campaign-analysis" in listed.stdout
    assert "configured_table.retailer.purchases" in listed.stdout


def test_a_waiting_runner_applies_once_the_holder_is_done(tmp_path: Path, store: Store) -> None:
    first, second = _checkout(tmp_path / "runner-1"), _checkout(tmp_path / "runner-2")
    slow = json.dumps({"latency_ms": 1000})
    holder = subprocess.Popen(
        [str(BIN / "reconciler"), "apply", STACK, "--auto-approve"],
        cwd=first,
        env=_env(store, RECONCILER_LOCAL_FAULTS=slow),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: _lock_key(store) in store.keys() or holder.poll() is not None, "the lock")
        assert holder.poll() is None, holder.communicate()
        waiter = _reconciler(second, store, "apply", STACK, "--auto-approve", "--lock-timeout", "240")
        holder_out, _ = holder.communicate(timeout=300)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate()
    assert holder.returncode == 0 and "Apply complete" in holder_out
    assert waiter.returncode == 0, waiter.stderr
    assert "Apply complete" in waiter.stdout


# -- an ephemeral runner -------------------------------------------------------------------------


def _serve(workspace: Path) -> tuple[subprocess.Popen[str], str]:
    """``reconciler serve`` on a free port: the one Clean Rooms both runners reach (as AWS would be)."""
    data = EXAMPLES / STACK / "data"
    command = [
        str(BIN / "reconciler"),
        "serve",
        "--port",
        "0",
        "--workspace",
        str(workspace),
        "--table",
        f"{RETAILER}:retail_analytics.purchases={data / 'purchases.csv'}",
        "--table",
        f"{ADTECH}:adtech.impressions={data / 'impressions.parquet'}",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Serving the local backend"):
            return process, line.rsplit(" at ", 1)[1].strip()
    process.wait(timeout=30)
    raise AssertionError(f"reconciler serve exited {process.returncode}")


def test_an_ephemeral_runner_sees_the_last_state(tmp_path: Path, store: Store) -> None:
    """A fresh checkout plans from the remote state: no changes, and a region move as a replace.

    The region move is what tags alone cannot tell: the spec moves the collaboration to
    us-west-2, and only the state remembers that it lives in us-east-1. A runner with no state
    plans to create a second collaboration and leaves the first one behind.
    """
    config = tmp_path / "aws-config"
    config.write_text(
        "".join(
            f"[profile {m}]\naws_access_key_id = {a}\naws_secret_access_key = local\n"
            for m, a in (("retailer", RETAILER), ("adtech", ADTECH))
        )
    )
    (tmp_path / "emulator").mkdir()
    server, url = _serve(tmp_path / "emulator")
    try:
        aws = {
            "AWS_CONFIG_FILE": str(config),
            "AWS_ENDPOINT_URL_CLEANROOMS": url,
            "AWS_ENDPOINT_URL_CLEANROOMSML": url,
            "RECONCILER_AWS_PROFILE_RETAILER": "retailer",
            "RECONCILER_AWS_PROFILE_ADTECH": "adtech",
        }
        applied = _reconciler(
            _checkout(tmp_path / "runner-1"),
            store,
            "apply",
            STACK,
            "--backend",
            "aws",
            "--auto-approve",
            **aws,
        )
        assert applied.returncode == 0, applied.stderr

        fresh = _checkout(tmp_path / "runner-2")
        listed = _reconciler(fresh, store, "state", "list", STACK, "--backend", "aws")
        assert "collaboration.retail-ad-campaign-analysis" in listed.stdout, listed.stdout
        planned = _reconciler(fresh, store, "plan", STACK, "--backend", "aws", **aws)
        assert planned.returncode == 0, planned.stderr
        assert "No changes" in planned.stdout

        collaboration = fresh / "specs" / STACK / "collaboration.yaml"
        text = collaboration.read_text()
        collaboration.write_text(
            text.replace("creator: retailer\n", "creator: retailer\nregion: us-west-2\n")
        )
        moved = _reconciler(fresh, store, "plan", STACK, "--backend", "aws", **aws)
        assert moved.returncode == 0, moved.stderr
        assert "0 to add" in moved.stdout and "to replace" in moved.stdout, moved.stdout
        assert f"Remote state and lock: {store.url}" in planned.stderr
        assert not (fresh / ".reconciler" / "state.json").exists()  # the state is remote, not here
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


# -- a killed holder -------------------------------------------------------------------------------


def test_a_killed_holder_is_reported_as_interrupted_and_unlock_force_clears_it(
    tmp_path: Path, store: Store
) -> None:
    runner, other = _checkout(tmp_path / "runner-1"), _checkout(tmp_path / "runner-2")
    crash = json.dumps({"crash_after_writes": 4})  # dies as if killed (137) after 4 writes
    killed = _reconciler(runner, store, "apply", STACK, "--auto-approve", RECONCILER_LOCAL_FAULTS=crash)
    assert killed.returncode == 137
    assert _lock_key(store) in store.keys()  # nothing released it

    # each finished step was recorded remotely as it ended: a fresh runner sees them (which ones
    # depends on the order parallel steps ran in; at least the first write's resource)
    listed = _reconciler(other, store, "state", "list", STACK)
    recorded = [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
    assert recorded, listed.stdout

    refused = _reconciler(other, store, "apply", STACK, "--auto-approve")
    assert refused.returncode == 1
    assert "which was interrupted: that process no longer runs" in refused.stderr
    assert "reconciler state unlock" in refused.stderr

    unlocked = _reconciler(other, store, "state", "unlock", STACK, "--force")
    assert unlocked.returncode == 0, unlocked.stderr
    assert "Removed the lock of process" in unlocked.stdout
    assert _lock_key(store) not in store.keys()

    resumed = _reconciler(runner, store, "apply", STACK, "--auto-approve")
    assert resumed.returncode == 0, resumed.stderr
    again = _reconciler(runner, store, "plan", STACK)
    assert "No changes" in again.stdout
    full = _reconciler(other, store, "state", "list", STACK).stdout
    assert set(recorded) < {line.split()[0] for line in full.splitlines() if line.strip()}
    assert not [k for k in store.keys() if ".journal/" in k]  # folded into the document


def test_unlock_without_force_refuses_a_live_holder(tmp_path: Path, store: Store) -> None:
    cache = _cache(store)
    with remote.hold_remote(cache, command="reconciler apply (live)"):
        refused = _reconciler(_checkout(tmp_path / "runner"), store, "state", "unlock", STACK)
        assert refused.returncode == 1
        assert "locked by process" in refused.stderr and "reconciler apply (live)" in refused.stderr
        assert _lock_key(store) in store.keys()


# -- lost updates and the library ------------------------------------------------------------------


def _cache(store: Store, stack: str = STACK) -> remote.RemoteStateCache:
    config = remote.StoreConfig.parse(store.url)
    return remote.RemoteStateCache(remote.open_store(config), "local", stack)


def test_a_lost_update_is_detected_and_nothing_is_overwritten(store: Store) -> None:
    mine, theirs = _cache(store), _cache(store)
    theirs_now = ObservedResource(address=parse("collaboration.c"), attributes={"name": "c"}, id="their-id")
    with remote.hold_remote(mine):
        mine.load("local", STACK)
        mine.save("local", State({}, STACK))
        # another runner breaks the lock (`state unlock --force`) and applies meanwhile
        assert remote.break_remote_lock(theirs, force=True) is not None
        with remote.hold_remote(theirs):
            theirs.load("local", STACK)
            theirs.save("local", State({theirs_now.address: theirs_now}, STACK))
        with pytest.raises(remote.StateConflict, match="changed by another runner since this one read it"):
            mine.save("local", State({}, STACK))
    assert _cache(store).load("local", STACK).get(theirs_now.address) == theirs_now  # not overwritten


def test_a_holder_whose_lock_was_broken_stops_writing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(remote.LEASE_VAR, "1")  # renewals every third of a second
    cache = _cache(store)
    with remote.hold_remote(cache):
        cache.load("local", STACK)
        assert remote.break_remote_lock(_cache(store), force=True) is not None
        _wait_for(lambda: cache.lock is not None and cache.lock.lost.is_set(), "the lease renewal", 10)
        with pytest.raises(remote.StateConflict, match="was broken by another runner"):
            cache.save("local", State({}, STACK))


def test_an_expired_lease_on_another_host_is_interrupted(store: Store) -> None:
    cache = _cache(store)
    key = cache.store.key("local", STACK, ".lock")
    record = {
        "pid": 1,
        "host": "runner-elsewhere",
        "since": "2026-01-01T00:00:00Z",
        "expires": "2026-01-01T00:01:00Z",
    }
    cache.store.put(key, json.dumps(record).encode(), expect=None)
    with pytest.raises(remote.LockHeld, match="its lease expired at 2026-01-01T00:01:00Z") as caught:
        with remote.hold_remote(cache):
            pass
    assert caught.value.holder is not None and caught.value.holder.host == "runner-elsewhere"
    assert remote.break_remote_lock(cache) is not None  # interrupted: no --force needed
    with remote.hold_remote(cache):
        assert cache.lock is not None


def test_a_live_lease_on_another_host_is_held_not_interrupted(store: Store) -> None:
    cache = _cache(store)
    key = cache.store.key("local", STACK, ".lock")
    record = {
        "pid": 1,
        "host": "runner-elsewhere",
        "since": "2026-01-01T00:00:00Z",
        "expires": "2999-01-01T00:00:00Z",
    }
    cache.store.put(key, json.dumps(record).encode(), expect=None)
    with pytest.raises(remote.LockHeld, match="the stack is locked by process 1 on host runner-elsewhere"):
        with remote.hold_remote(cache):
            pass
    with pytest.raises(remote.LockHeld):
        remote.break_remote_lock(cache)
    assert remote.break_remote_lock(cache, force=True) is not None


def test_a_dead_pid_of_another_kernel_is_not_taken_as_gone(store: Store) -> None:
    """Containers may share a host name: a pid is only judged where boot and pid namespace match."""
    cache = _cache(store)
    key = cache.store.key("local", STACK, ".lock")
    record = {
        "pid": 2**22 + 1,  # above any pid_max default: no such process here
        "host": socket.gethostname(),
        "since": "2026-01-01T00:00:00Z",
        "expires": "2999-01-01T00:00:00Z",
        "machine": "another-boot/pid:[1]",
    }
    cache.store.put(key, json.dumps(record).encode(), expect=None)
    with pytest.raises(remote.LockHeld, match="the stack is locked by process"):
        with remote.hold_remote(cache):
            pass
    with pytest.raises(remote.LockHeld):
        remote.break_remote_lock(cache)  # may still run: only --force removes it


def test_a_plan_without_the_lock_writes_no_state(store: Store) -> None:
    cache = _cache(store)
    cache.save("local", State({}, STACK))
    assert store.keys() == []


# -- errors ----------------------------------------------------------------------------------------


def test_a_missing_bucket_or_table_is_a_clear_error(tmp_path: Path, store: Store) -> None:
    missing = "s3://no-such-bucket-here/x" if store.url.startswith("s3://") else "dynamodb://no-such-table"
    done = _reconciler(_checkout(tmp_path / "runner"), store, "plan", STACK, RECONCILER_STATE=missing)
    assert done.returncode == 1
    what = "bucket 'no-such-bucket-here'" if "s3" in missing else "table 'no-such-table'"
    assert f"error: the remote state's {what} does not exist" in done.stderr


def test_access_denied_is_a_clear_error(store: Store) -> None:
    from botocore.exceptions import ClientError

    config = remote.StoreConfig.parse(store.url)
    denied = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        "GetObject",
    )
    error = remote._error(remote.open_store(config), denied, "k", "read")
    assert isinstance(error, remote.RemoteStateError)
    assert "access denied to the remote state" in error.message


def test_the_environment_and_the_spec_must_agree(tmp_path: Path, store: Store) -> None:
    project = _checkout(tmp_path / "runner")
    doc = "kind: RemoteState\nbackend: s3\nbucket: spec-bucket\nprefix: ci\n"
    (project / "specs" / STACK / "state.yaml").write_text(doc)
    done = _reconciler(project, store, "plan", STACK, RECONCILER_STATE="s3://other-bucket/ci")
    assert done.returncode == 1
    assert "name different state stores" in done.stderr and "s3://spec-bucket/ci" in done.stderr


def test_the_spec_alone_chooses_the_store(tmp_path: Path, store: Store) -> None:
    project = _checkout(tmp_path / "runner")
    config = remote.StoreConfig.parse(store.url)
    doc = (
        f"kind: RemoteState\nbackend: s3\nbucket: {config.name}\nprefix: {config.prefix}\n"
        if config.kind == "s3"
        else f"kind: RemoteState\nbackend: dynamodb\ntable: {config.name}\n"
    )
    (project / "specs" / STACK / "state.yaml").write_text(doc)
    done = _reconciler(project, store, "apply", STACK, "--auto-approve", RECONCILER_STATE="")
    assert done.returncode == 0, done.stderr
    assert any(k.endswith(f"local/{STACK}.json") for k in store.keys())
    assert not (project / ".reconciler" / "state.json").exists()


@pytest.mark.parametrize(
    "text",
    ["s3:/bucket", "http://bucket/x", "dynamodb://table/prefix", "s3://bucket?colour=red"],
)
def test_a_bad_state_variable_is_refused(text: str) -> None:
    with pytest.raises(StateError, match="is not a state store"):
        remote.StoreConfig.parse(text)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("backend: s3\ntable: t\n", "backend: s3 needs `bucket` (and no `table`)"),
        ("backend: dynamodb\nbucket: b\n", "backend: dynamodb needs `table` (and no `bucket` or `prefix`)"),
        ("backend: gcs\nbucket: b\n", 'backend: must be "s3" or "dynamodb"'),
    ],
)
def test_a_wrong_remote_state_document_is_a_spec_error_at_its_line(
    tmp_path: Path, document: str, message: str
) -> None:
    from reconciler.errors import SpecError
    from reconciler.spec import load_stack

    stack = _checkout(tmp_path) / "specs" / STACK
    (stack / "state.yaml").write_text("kind: RemoteState\n" + document)
    with pytest.raises(SpecError) as caught:
        load_stack(stack)
    found = [d for d in caught.value.diagnostics if d.location and d.location.path.endswith("state.yaml")]
    assert [d.summary for d in found] == [message]
