"""Backend: reads and writes Clean Rooms resources through boto3 ``cleanrooms`` clients.

There is one implementation, ``Boto3Backend``; ``--backend local`` and ``--backend aws`` differ
only in who answers its clients (``LocalClients``: the in-process emulator; ``AwsClients``: AWS,
with a profile or an assumed role per member account). Everything it knows about resource types
comes from the descriptors in ``reconciler.resources``: which List operation finds a kind, which
Get reads it, which parameters address it, how its response is normalized. There is no per-kind
code here.

Reading (``read``) crawls every member account with a bounded thread pool: top-level List calls
per account, ``ListTagsForResource`` to keep only resources tagged with this stack, a Get per
managed resource, then the children of each (List under the parent, or the parent's
``analysisRuleTypes`` for kinds without a List). Each call is a task of its own, so the pool stays
busy across levels. Writing (``run_step``) performs one plan Step, resolving ``Ref`` parameters
from the current State. botocore errors are translated here, at the boundary, into
``RetryableBackendError`` / ``TerminalBackendError``; nothing above this module imports botocore.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import boto3
import botocore.config
import botocore.exceptions
from botocore import xform_name

from reconciler.aws_model import service_model
from reconciler.errors import (
    BackendError,
    ReconcilerError,
    RetryableBackendError,
    TerminalBackendError,
)
from reconciler.execution.retry import RetryPolicy, is_retryable, with_retries
from reconciler.execution.state import ADDRESS_TAG, STACK_TAG, State, identity_tags
from reconciler.planner.addresses import NAME_PARTS, Address, Kind, parse
from reconciler.planner.model import Step
from reconciler.planner.normal_form import normalize_observed
from reconciler.planner.registry import REGISTRY, SELF, ResourceType, descriptor
from reconciler.planner.resource import ObservedResource, Ref

__all__ = [
    "Account",
    "AwsClients",
    "Backend",
    "Boto3Backend",
    "ClientSource",
    "LocalClients",
    "StepResult",
    "translate_error",
]

#: Extra words for terminal errors whose cause a user would not guess from AWS's message.
_CONFLICT_HINTS = {
    "SUBRESOURCES_EXIST": (
        "the resource still has children, so the steps ran in the wrong order; this is a bug in the"
        " plan's ordering (children must be deleted first): please report it"
    ),
    "ALREADY_EXISTS": (
        "a resource with this name already exists; run `reconciler plan` again to adopt or rename it"
    ),
}

#: Member statuses that mean the resource is gone for good (they are not observed state).
_GONE_STATUSES = frozenset({"REMOVED", "LEFT", "COLLABORATION_DELETED", "DELETED"})


# -- errors and retries -------------------------------------------------------------------------


def translate_error(exc: Exception, operation: str) -> BackendError:
    """Turn a botocore exception into a BackendError that says whether retrying can help.

    Args:
        exc: what botocore raised.
        operation: the API operation (for the message).

    Returns:
        ``RetryableBackendError`` for throttling, 5xx, connection failures and IAM propagation
        delays; ``TerminalBackendError`` for everything else.
    """
    if isinstance(exc, botocore.exceptions.ClientError):
        response: Mapping[str, Any] = exc.response
        error = response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message") or exc)
        reason = str(response.get("reason") or error.get("reason") or "")
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        text = f"{operation} failed: {code}{f' ({reason})' if reason else ''}: {message}"
        if is_retryable(code, status, reason):
            return RetryableBackendError(text, code=code, operation=operation)
        hint = _CONFLICT_HINTS.get(reason, "") if code == "ConflictException" else ""
        if code == "AccessDeniedException":
            hint = "check the credentials used for this member's account (profile or role)"
        return TerminalBackendError(text, code=code, operation=operation, hint=hint)
    if isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        return RetryableBackendError(
            f"{operation} failed: {exc}", code=type(exc).__name__, operation=operation
        )
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return TerminalBackendError(
            f"{operation} failed: no AWS credentials",
            code="NoCredentials",
            operation=operation,
            hint="set `credentials` for the member in the spec or RECONCILER_AWS_PROFILE_<MEMBER>",
        )
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return TerminalBackendError(f"{operation} was refused before sending: {exc}", operation=operation)
    return TerminalBackendError(f"{operation} failed: {type(exc).__name__}: {exc}", operation=operation)


# -- clients ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """One member account the backend acts as.

    Args:
        member: the spec's member key (``retailer``).
        account_id: the 12-digit account id.
        region: the Clean Rooms region.
        profile: AWS shared-config profile (aws backend only).
        role_arn: role to assume, from ``profile`` if given (aws backend only).
    """

    member: str
    account_id: str
    region: str = "us-east-1"
    profile: str | None = None
    role_arn: str | None = None


class ClientSource(Protocol):
    """Who answers the clients: ``name`` is ``local`` or ``aws``."""

    name: str

    def client(self, account: Account) -> Any:
        """A boto3 ``cleanrooms`` client acting as ``account``."""
        ...


def _client_config(parallelism: int, max_attempts: int) -> botocore.config.Config:
    return botocore.config.Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=max(10, parallelism),
    )


class LocalClients:
    """Clients answered in-process by the emulator (``reconciler.emulator.connect``).

    botocore's standard retry mode is kept but with one attempt: ``with_retries`` retries above
    it with a short backoff and reports each retry, which botocore's hidden retries would not.

    Args:
        path: the emulator's DuckDB file (default ``.reconciler/local.duckdb``).
        parallelism: connection-pool size.
    """

    name = "local"
    discovers_accounts = True  # every account is simulated: a member dropped from the spec is still read

    def __init__(self, path: Path | None = None, *, parallelism: int = 16) -> None:
        from reconciler import emulator  # the service, reached only through its boto3 clients

        self.service = emulator.connect(path if path is not None else Path(".reconciler") / "local.duckdb")
        self._config = _client_config(parallelism, max_attempts=1)
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the emulator's database (its clients stop working)."""
        self.service.close()

    def client(self, account: Account) -> Any:
        key = (account.account_id, account.region)
        with self._lock:
            if key not in self._clients:
                made = self.service.client(
                    "cleanrooms", account_id=account.account_id, region=account.region, config=self._config
                )
                self._clients[key] = made
            return self._clients[key]


def _env_name(member: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", member).upper()


class AwsClients:
    """Clients for real AWS: per member, a named profile and/or a role to assume.

    The spec's ``credentials`` may be overridden per member by the environment:
    ``RECONCILER_AWS_PROFILE_<MEMBER>`` and ``RECONCILER_AWS_ROLE_ARN_<MEMBER>`` (member key
    upper-cased, other characters as ``_``). Nothing about credentials is written to plans or
    state. botocore's standard retry mode handles transient errors first.

    Args:
        environ: the environment (tests pass their own).
        session_factory: makes ``boto3.Session`` objects (tests pass a fake).
        parallelism: connection-pool size.
    """

    name = "aws"

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        session_factory: Callable[..., Any] = boto3.Session,
        parallelism: int = 16,
    ) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self._session_factory = session_factory
        self._config = _client_config(parallelism, max_attempts=5)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def credentials_for(self, account: Account) -> tuple[str | None, str | None]:
        """The (profile, role ARN) used for ``account``, environment first."""
        suffix = _env_name(account.member)
        profile = self._environ.get(f"RECONCILER_AWS_PROFILE_{suffix}") or account.profile
        role = self._environ.get(f"RECONCILER_AWS_ROLE_ARN_{suffix}") or account.role_arn
        return profile, role

    def client(self, account: Account) -> Any:
        with self._lock:
            if account.account_id not in self._clients:
                self._clients[account.account_id] = self._make(account)
            return self._clients[account.account_id]

    def _make(self, account: Account) -> Any:
        profile, role = self.credentials_for(account)
        session = self._session_factory(profile_name=profile) if profile else self._session_factory()
        if role:
            sts = session.client("sts", region_name=account.region, config=self._config)
            try:
                creds = sts.assume_role(RoleArn=role, RoleSessionName="cleanrooms-reconciler")["Credentials"]
            except Exception as exc:  # noqa: BLE001 - every botocore failure becomes a BackendError
                raise translate_error(exc, "AssumeRole") from None
            session = self._session_factory(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
        return session.client("cleanrooms", region_name=account.region, config=self._config)


# -- the backend --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    """What one Step did: the resource as it now is (None after a delete) and retries taken."""

    step: Step
    resource: ObservedResource | None
    retries: int = 0
    note: str = ""


class Backend(Protocol):
    """What the planner and the executor need from a backend."""

    name: str

    @property
    def calls(self) -> int:
        """API calls made so far."""
        ...

    def read(
        self,
        stack: str,
        *,
        known: State | None = None,
        adopt: Mapping[Address, tuple[str | None, str | None]] | None = None,
        foreign: Mapping[Address, str] | None = None,
    ) -> State:
        """Observe every resource tagged with ``stack`` (and its untaggable children)."""
        ...

    def run_step(
        self,
        step: Step,
        state: State,
        stack: str,
        *,
        on_retry: Callable[[int, RetryableBackendError], None] | None = None,
        retry: RetryPolicy | None = None,
    ) -> StepResult:
        """Perform one Step (Refs in its parameters resolved from ``state``)."""
        ...


@dataclass
class _Found:
    """A resource met during the crawl, before normalization."""

    kind: Kind
    address: Address
    account: Account
    raw: dict[str, Any]
    tags: dict[str, str] | None
    context: dict[str, str]  # identifier parameters that address it (and its children)
    parent: Address | None = None  # for untaggable kinds: named after their parent
    managed: bool = True  # False for an adopted resource (``existing: true``) and its untagged children


@dataclass
class _Crawl:
    """Shared, lock-protected results of one read."""

    stack: str
    found: dict[Address, _Found] = field(default_factory=dict)
    seen_arns: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    adopt: dict[str, Address] = field(default_factory=dict)  # "id:<id>" / "name:<kind>:<name>"
    foreign: dict[tuple[Kind, str], Address] = field(default_factory=dict)  # (kind, name) -> Address
    lock: threading.Lock = field(default_factory=threading.Lock)


def _arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


class Boto3Backend:
    """The one backend: boto3 ``cleanrooms`` clients, answered locally or by AWS.

    Args:
        clients: who answers (``LocalClients`` or ``AwsClients``).
        accounts: the member accounts the backend acts as (read from all of them).
        parallelism: worker threads for reads.
        retry: retry policy for reads (writes take the executor's).
        names: account id -> member key for every member of the stack, also those it cannot
            act as (``--as`` on AWS), so observed members are named by key.
    """

    def __init__(
        self,
        clients: ClientSource,
        accounts: Sequence[Account],
        *,
        parallelism: int = 16,
        retry: RetryPolicy | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self.name = clients.name
        self.clients = clients
        self.accounts = list({a.account_id: a for a in accounts}.values())
        self.parallelism = max(1, parallelism)
        self.retry = retry or RetryPolicy()
        self._calls = 0
        self._count_lock = threading.Lock()
        self._by_member = {a.member: a for a in self.accounts}
        self._by_id = {a.account_id: a for a in self.accounts}
        self.problems: list[str] = []
        self.discover = bool(getattr(clients, "discovers_accounts", False))
        self._skipped: set[str] = set()
        #: Retries taken by reads so far, and who is told about each (the CLI prints them).
        self.read_retries = 0
        self.on_read_retry: Callable[[str, int, RetryableBackendError], None] | None = None
        self._names = {**(names or {}), **{a.account_id: a.member for a in self.accounts}}

    @property
    def calls(self) -> int:
        return self._calls

    # -- one call -------------------------------------------------------------------------

    def call(self, account: Account, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Make one API call as ``account``; botocore errors come out as BackendErrors.

        Args:
            account: who calls.
            operation: the API name (``GetMembership``).
            params: its parameters (all Refs already resolved).

        Returns:
            The parsed response.
        """
        with self._count_lock:
            self._calls += 1
        try:
            method = getattr(self.clients.client(account), xform_name(operation))
            response: dict[str, Any] = method(**params)
        except ReconcilerError:
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: everything becomes a BackendError
            raise translate_error(exc, operation) from None
        return response

    def _read_call(self, account: Account, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        def note(attempt: int, exc: RetryableBackendError) -> None:
            with self._count_lock:
                self.read_retries += 1
            if self.on_read_retry is not None:
                self.on_read_retry(operation, attempt, exc)

        return with_retries(lambda: self.call(account, operation, params), self.retry, on_retry=note)

    def account_for(self, member: str | None, account_id: str | None) -> Account:
        """The Account a step or resource acts as (by account id, else member key)."""
        found = self._by_id.get(account_id or "") or self._by_member.get(member or "")
        if found is None:
            raise TerminalBackendError(
                f"no credentials or account known for member {member or account_id!r}",
                hint="the member must be declared in the spec's collaboration members",
            )
        return found

    # -- reading ----------------------------------------------------------------------------

    def read(
        self,
        stack: str,
        *,
        known: State | None = None,
        adopt: Mapping[Address, tuple[str | None, str | None]] | None = None,
        foreign: Mapping[Address, str] | None = None,
    ) -> State:
        """Observe every resource of ``stack``: tagged ones, and the untaggable children of those.

        Args:
            stack: the stack name (value of the ``reconciler:stack`` tag).
            known: the cached State; its addresses help name members of accounts that have left
                the spec. The cloud, not the cache, decides what exists.
            adopt: resources made outside the stack (``existing: true``), by Address: (id, name).
                They are found by id, else by name, and observed as unmanaged (never deleted).
            foreign: resources of members whose accounts this backend cannot act as (``--as``
                on AWS), by Address: name. They are read through a readable member's view (a
                collaboration its members see), unmanaged, so references to them resolve.

        Returns:
            The observed State (normalized attributes, ids, ARNs, owners).
        """
        crawl = _Crawl(stack)
        for address, (rid, name) in (adopt or {}).items():
            crawl.adopt[f"id:{rid}" if rid else f"name:{address.kind}:{name}"] = address
        for address, name in (foreign or {}).items():
            crawl.foreign[(address.kind, name)] = address
        member_keys = self._member_keys(known)
        tasks: list[Callable[[], list[Callable[[], Any]]]] = []
        for account in list(self.accounts):
            tasks.extend(self._root_tasks(crawl, account, member_keys))
        with _older_objects_frozen():
            _run_all(tasks, self.parallelism)
            return self._normalize(crawl, member_keys)

    def _root_tasks(
        self, crawl: _Crawl, account: Account, member_keys: Mapping[str, str]
    ) -> list[Callable[[], list[Callable[[], Any]]]]:
        """The top-level List calls of one account (kinds found without a parent)."""
        roots = [d for d in REGISTRY.values() if d.list and not _list_parent(d)]
        return [self._list_task(crawl, d, account, None, {}, member_keys) for d in roots]

    def _discovered(
        self, crawl: _Crawl, found: _Found, member_keys: Mapping[str, str]
    ) -> list[Callable[[], list[Callable[[], Any]]]]:
        """A member account the spec no longer names: crawl it too, when the clients can act as it.

        Locally every account is simulated, so resources of a member removed from the spec are
        still found (and deleted). On AWS there are no credentials for it; it is noted instead.
        """
        account_id = str(found.raw.get("accountId", ""))
        with self._count_lock:
            if not account_id or account_id in self._by_id:
                return []
            if not self.discover:
                if account_id not in self._skipped and account_id not in self._names:
                    self._skipped.add(account_id)
                    crawl.problems.append(
                        f"account {account_id} is a member of {found.parent} but not of the spec;"
                        " its resources are not read (no credentials for it)"
                    )
                return []
            key = member_keys.get(account_id, account_id)
            account = Account(key, account_id, found.account.region)
            self.accounts.append(account)
            self._by_id[account_id] = account
            self._by_member.setdefault(key, account)
        return self._root_tasks(crawl, account, member_keys)

    def _member_keys(self, known: State | None) -> dict[str, str]:
        keys = dict(self._names)
        for resource in known or ():
            if resource.address.kind is Kind.MEMBER and resource.account_id:
                keys.setdefault(resource.account_id, resource.address.part("member"))
        return keys

    def _list_task(
        self,
        crawl: _Crawl,
        d: ResourceType,
        account: Account,
        parent: _Found | None,
        context: Mapping[str, str],
        member_keys: Mapping[str, str],
        token: str | None = None,
    ) -> Callable[[], list[Callable[[], Any]]]:
        """One page of ``d.list`` (the next page is a follow-up task)."""

        def task() -> list[Callable[[], Any]]:
            assert d.list is not None
            accepted = _inputs(d.list)
            params: dict[str, Any] = {k: v for k, v in context.items() if k in accepted}
            if "status" in accepted and "ACTIVE" in _enum(d.list, "status"):
                params["status"] = "ACTIVE"
            if token:
                params["nextToken"] = token
            page = self._read_call(account, d.list, params)
            out: list[Callable[[], Any]] = []
            if page.get("nextToken"):
                out.append(
                    self._list_task(crawl, d, account, parent, context, member_keys, page["nextToken"])
                )
            for item in page.get(d.list_key, []):
                if item.get("status") in _GONE_STATUSES or item.get("memberStatus") in _GONE_STATUSES:
                    continue
                if d.taggable:
                    arn = str(item.get("arn", ""))
                    owner = _arn_account(arn)
                    if owner != account.account_id:
                        # another account's resource, seen through a shared collaboration: read
                        # it here only when its owner cannot be read and the stack names it
                        hint = crawl.foreign.get((d.kind, str(item.get("name"))))
                        if owner in self._by_id or hint is None:
                            continue
                        with crawl.lock:
                            if arn in crawl.seen_arns:
                                continue
                            crawl.seen_arns.add(arn)
                        params = {**context, **{k: item["id"] for k, v in d.identifiers.items() if v == SELF}}
                        out.append(
                            self._get_task(crawl, d, account, hint, params, None, member_keys, managed=False)
                        )
                        continue
                    with crawl.lock:
                        if arn in crawl.seen_arns:
                            continue
                        crawl.seen_arns.add(arn)
                    out.append(self._tags_task(crawl, d, account, item, context, member_keys))
                elif parent is not None:
                    address = _untagged_address(d.kind, parent.address, item, member_keys)
                    found = _Found(d.kind, address, account, dict(item), None, dict(context), parent.address)
                    found.managed = parent.managed
                    out.extend(self._record(crawl, found, member_keys))
                    out.extend(self._discovered(crawl, found, member_keys))
            return out

        return task

    def _tags_task(
        self,
        crawl: _Crawl,
        d: ResourceType,
        account: Account,
        summary: Mapping[str, Any],
        context: Mapping[str, str],
        member_keys: Mapping[str, str],
    ) -> Callable[[], list[Callable[[], Any]]]:
        """ListTagsForResource; only resources tagged with this stack go on to a Get."""

        def task() -> list[Callable[[], Any]]:
            tags = dict(
                self._read_call(account, "ListTagsForResource", {"resourceArn": summary["arn"]})["tags"]
            )
            params = {**context, **{k: summary["id"] for k, v in d.identifiers.items() if v == SELF}}
            if tags.get(STACK_TAG) != crawl.stack:
                adopted = crawl.adopt.get(f"id:{summary['id']}") or crawl.adopt.get(
                    f"name:{d.kind}:{summary.get('name')}"
                )
                if adopted is None:
                    return []
                return [self._get_task(crawl, d, account, adopted, params, tags, member_keys, managed=False)]
            try:
                address = parse(tags.get(ADDRESS_TAG, ""))
            except ValueError as exc:
                with crawl.lock:
                    crawl.problems.append(f"{summary['arn']}: bad {ADDRESS_TAG} tag ({exc}); ignored")
                return []
            return [self._get_task(crawl, d, account, address, params, tags, member_keys)]

        return task

    def _get_task(
        self,
        crawl: _Crawl,
        d: ResourceType,
        account: Account,
        address: Address,
        context: Mapping[str, str],
        tags: dict[str, str] | None,
        member_keys: Mapping[str, str],
        *,
        managed: bool = True,
    ) -> Callable[[], list[Callable[[], Any]]]:
        """The Get of one managed resource, then the crawl of its children."""

        def task() -> list[Callable[[], Any]]:
            assert d.get is not None
            accepted = _inputs(d.get)
            raw = self._read_call(account, d.get, {k: v for k, v in context.items() if k in accepted})
            found = _Found(d.kind, address, account, dict(raw[d.response_key]), tags, dict(context))
            found.managed = managed
            return self._record(crawl, found, member_keys)

        return task

    def _record(
        self, crawl: _Crawl, found: _Found, member_keys: Mapping[str, str]
    ) -> list[Callable[[], Any]]:
        """Keep a found resource and return the tasks that find its children."""
        with crawl.lock:
            if found.address in crawl.found:
                crawl.problems.append(f"two resources carry the address {found.address}; keeping the first")
                return []
            crawl.found[found.address] = found
        out: list[Callable[[], Any]] = []
        for child in REGISTRY.values():
            if _list_parent(child) is not found.kind:
                continue
            if child.list:
                owner = found.account
                out.append(self._list_task(crawl, child, owner, found, found.context, member_keys))
                continue
            # No List operation: the parent's response names the children's types.
            for key in (k for k in child.identifiers if child.identifiers[k] not in (SELF,)):
                if key in found.context or f"{key}s" not in found.raw:
                    continue
                for value in found.raw[f"{key}s"]:
                    address = Address(child.kind, found.address.parts)
                    params = {**found.context, key: value}
                    task = self._get_task(
                        crawl, child, found.account, address, params, None, member_keys, managed=found.managed
                    )
                    out.append(task)
        return out

    def _normalize(self, crawl: _Crawl, known_keys: Mapping[str, str]) -> State:
        # Tagged resources name their owner: use that to name members by key, not account id.
        member_keys = dict(known_keys)
        for f in crawl.found.values():
            meanings = NAME_PARTS[f.kind]
            if f.tags is not None and f.account.account_id not in member_keys:
                for meaning in ("member", "owner"):
                    if meaning in meanings:
                        member_keys[f.account.account_id] = f.address.part(meaning)
        for f in list(crawl.found.values()):
            if f.parent is not None and "member" in NAME_PARTS[f.kind]:
                f.address = _untagged_address(f.kind, f.parent, f.raw, member_keys)
        ids: dict[str, Address] = {}
        for f in crawl.found.values():
            for key in ("id", "arn"):
                if isinstance(f.raw.get(key), str):
                    ids[f.raw[key]] = f.address
        resources = {}
        for f in sorted(crawl.found.values(), key=lambda f: f.address):
            own_id = _own_id(f)
            attributes = normalize_observed(f.kind, f.raw, address=f.address, ids=ids, tags=f.tags)
            resources[f.address] = ObservedResource(
                f.address,
                attributes,
                owner=member_keys.get(f.account.account_id, f.account.member),
                account_id=str(f.raw.get("accountId") or f.account.account_id),
                id=own_id,
                arn=f.raw.get("arn"),
                managed=f.managed,
            )
        self.problems = list(crawl.problems)
        return State(resources, crawl.stack)

    # -- writing ----------------------------------------------------------------------------

    def run_step(
        self,
        step: Step,
        state: State,
        stack: str,
        *,
        on_retry: Callable[[int, RetryableBackendError], None] | None = None,
        retry: RetryPolicy | None = None,
    ) -> StepResult:
        """Perform one Step: resolve its Refs from ``state``, call, and report the new resource.

        Args:
            step: the plan Step.
            state: what exists now (observed, plus results of earlier steps).
            stack: the stack name (for identity tags on create).
            on_retry: told about each retry.
            retry: the retry policy (default: the backend's).

        Returns:
            The StepResult: the resource as it is after the step, None after a delete.
        """
        d = descriptor(step.address.kind)
        params = _resolve(step.params, state, step)
        if step.role == "create" and d.taggable:
            params["tags"] = {**dict(params.get("tags") or {}), **identity_tags(stack, step.address)}
        account = self.account_for(step.owner, step.account_id)
        retries = 0

        def note(n: int, exc: RetryableBackendError) -> None:
            nonlocal retries
            retries = n
            if on_retry is not None:
                on_retry(n, exc)

        policy = retry or self.retry
        response = with_retries(lambda: self.call(account, step.operation, params), policy, on_retry=note)
        remark = ""
        if step.role == "change_request":
            remark = self._see_through(response, account, policy)
        return StepResult(step, self._after(step, d, response, state, account), retries, remark)

    def _see_through(self, response: Mapping[str, Any], creator: Account, policy: RetryPolicy) -> str:
        """Carry a collaboration change request as far as this backend may.

        Locally every member is simulated, so the other members approve and the creator commits
        (one apply does everything). On AWS the other members approve in their own accounts;
        the step then reports whom the request waits for, and a later plan shows it as pending.
        """
        request = dict(response.get("collaborationChangeRequest") or {})
        ids = {
            "collaborationIdentifier": request.get("collaborationId"),
            "changeRequestIdentifier": request.get("id"),
        }
        waiting = sorted(
            a for a, v in (request.get("approvals") or {}).items() if v.get("status") == "PENDING"
        )

        def act(who: Account, action: str) -> dict[str, Any]:
            params = {**ids, "action": action}
            answer = with_retries(lambda: self.call(who, "UpdateCollaborationChangeRequest", params), policy)
            return dict(answer["collaborationChangeRequest"])

        if request.get("status") == "PENDING" and self.discover:
            for account_id in waiting:
                request = act(
                    self._by_id.get(account_id) or Account(account_id, account_id, creator.region), "APPROVE"
                )
        if request.get("status") == "APPROVED":
            request = act(creator, "COMMIT")
        if request.get("status") == "PENDING":
            return (
                f"change request {ids['changeRequestIdentifier']} waits for approval by {', '.join(waiting)}"
            )
        return f"change request {request.get('status', '').lower()}"

    def _after(
        self, step: Step, d: ResourceType, response: Mapping[str, Any], state: State, account: Account
    ) -> ObservedResource | None:
        """The resource after a step (attributes from the step; ids from the response)."""
        previous = state.get(step.address)
        if step.role == "delete":
            # A create-then-delete replacement deletes the old resource after the new one exists.
            if previous is not None and previous.id and previous.id not in _flat(step.params):
                return previous
            return None
        raw = response.get(d.response_key) if step.role in ("create", "update") else None
        attributes = dict(previous.attributes) if previous is not None else {}
        if step.role == "create":
            attributes = {k: v for k, v in step.params.items() if k in d.fields}
        elif step.role == "update":
            attributes.update({k: v for k, v in step.params.items() if k in d.fields})
        if isinstance(raw, Mapping):
            own = _own_id(_Found(d.kind, step.address, account, dict(raw), None, dict(step.params)))
            arn = raw.get("arn") or (previous.arn if previous else None)
            return ObservedResource(
                step.address, attributes, owner=step.owner, account_id=account.account_id, id=own, arn=arn
            )
        if previous is not None:
            return ObservedResource(
                step.address,
                attributes,
                owner=previous.owner,
                account_id=previous.account_id,
                id=previous.id,
                arn=previous.arn,
            )
        return ObservedResource(step.address, attributes, owner=step.owner, account_id=account.account_id)


@contextlib.contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector off the objects that exist before a read, for the read's duration.

    A read allocates about 15 containers per resource while the spec, the desired resources and
    (locally) the emulator's records, all alive for the whole command, already hold several times
    more. Each full collection during the read walked all of them, and there are more full
    collections the larger the stack, so the collector's share grew faster than the stack (about
    16 % of a 10,000-resource no-change plan). Frozen (``gc.freeze``), they are skipped; they are
    handed back (``gc.unfreeze``) when the read ends, so cyclic garbage among them is collected
    later rather than never. Reference counting, which frees nearly everything, is unaffected.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_all(roots: Sequence[Callable[[], list[Callable[[], Any]]]], parallelism: int) -> None:
    """Run tasks on a bounded pool; each returns follow-up tasks, which are queued at once.

    Workers queue the follow-ups themselves (no central loop waiting on every future), so the
    pool stays busy across levels of the crawl and the cost per task stays constant however
    many are queued. The first error stops the run: queued tasks are skipped, and it is raised.
    """
    lock = threading.Lock()
    finished = threading.Event()
    outstanding = 0
    errors: list[BaseException] = []

    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="read") as pool:

        def submit(task: Callable[[], list[Callable[[], Any]]]) -> None:
            nonlocal outstanding
            with lock:
                outstanding += 1
            pool.submit(run, task)

        def run(task: Callable[[], list[Callable[[], Any]]]) -> None:
            nonlocal outstanding
            try:
                if not errors:
                    for follow_up in task():
                        submit(follow_up)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                with lock:
                    errors.append(exc)
            finally:
                with lock:
                    outstanding -= 1
                    if outstanding == 0:
                        finished.set()

        if not roots:
            return
        submit(lambda: list(roots))  # one task queues the roots, so their order is kept
        finished.wait()
    if errors:
        raise errors[0]


# -- helpers driven by the service model and the descriptors -------------------------------------


def _inputs(operation: str) -> Mapping[str, Any]:
    shape = service_model().operation_model(operation).input_shape
    return shape.members if shape is not None else {}


def _enum(operation: str, member: str) -> list[str]:
    shape = _inputs(operation).get(member)
    return list(getattr(shape, "enum", []) or [])


def _list_parent(d: ResourceType) -> Kind | None:
    """The kind under which ``d`` is found: the referenced kind its List (or Get) needs an id of."""
    operation = d.list or d.get
    if operation is None:
        return None
    required = service_model().operation_model(operation).input_shape.required_members
    candidates = [
        ref.kind for name, ref in d.references.items() if name in required and d.identifiers.get(name) != SELF
    ]
    if not candidates:
        return None
    # The deepest referenced kind is the one whose response carries the rest of the context.
    return max(candidates, key=lambda k: list(Kind).index(k))


def _untagged_address(
    kind: Kind, parent: Address, item: Mapping[str, Any], member_keys: Mapping[str, str]
) -> Address:
    """Name an untaggable child by its parent: same parts, plus a member key for members."""
    extra = NAME_PARTS[kind][len(parent.parts) :]
    parts = list(parent.parts)
    for meaning in extra:
        account = str(item.get("accountId", ""))
        parts.append(member_keys.get(account, account) if meaning == "member" else str(item.get(meaning, "")))
    return Address(kind, tuple(parts))


def _own_id(found: _Found) -> str | None:
    """The id that names this resource in its own operations (or its type / account for sub-resources)."""
    if "id" in found.raw:
        return str(found.raw["id"])
    d = descriptor(found.kind)
    for name in d.identifiers:
        if name not in found.context:
            response_name = {v: k for k, v in d.response_renames.items()}.get(name, name)
            value = found.raw.get(response_name) or found.raw.get(name)
            if value is not None:
                return str(value)
    for key in ("accountId", "type"):
        if key in found.raw:
            return str(found.raw[key])
    return None


def _flat(value: Any) -> set[str]:
    if isinstance(value, Mapping):
        return set().union(*(_flat(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_flat(v) for v in value)) if value else set()
    return {value} if isinstance(value, str) else set()


def _resolve(value: Any, state: State, step: Step) -> Any:
    """Replace every Ref in step parameters by the id, ARN or account id it names."""
    if isinstance(value, Ref):
        target = state.get(value.address)
        resolved = None
        if target is not None:
            resolved = {"id": target.id, "arn": target.arn, "accountId": target.account_id}.get(value.field)
        if resolved is None:
            raise TerminalBackendError(
                f"step {step.id!r} needs the {value.field} of {value.address}, which does not exist",
                hint="an earlier step that creates it failed or was not run; run `reconciler plan` again",
            )
        return resolved
    if isinstance(value, Mapping):
        return {k: _resolve(v, state, step) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(v, state, step) for v in value]
    return value
