"""Who answers the boto3 clients: the local emulator or AWS, one client per (account, region, service).

The backend is one piece of code written against boto3 clients; ``--backend local`` and
``--backend aws`` differ only in the ``ClientSource`` that hands those clients out:

- ``LocalClients``: the in-process emulator (``reconciler.emulator``) answers. It simulates
  every account, so it can act as any account it meets (``act_as``), and it stands in for what
  other AWS services know on AWS: ``bind_table`` tells its Glue stand-in where a table's data
  is, and ``results_root`` is where its protected queries write ``s3://`` results.
- ``AwsClients``: AWS answers, with a profile and/or a role to assume per member account (from
  the spec, overridden by the environment). It acts only as accounts it has credentials for.

Clients are made once per (account, region, service) and shared by the backend's threads; the
service is named by the resource type being called (``cleanrooms``, ``cleanroomsml``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import boto3
import botocore.config

from reconciler.errors import TerminalBackendError
from reconciler.execution.translate import translate_error

__all__ = ["Account", "Accounts", "AwsClients", "ClientSource", "LocalClients"]


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
    """Who answers the backend's boto3 clients; ``name`` is ``local`` or ``aws``."""

    name: str

    def client(self, account: Account, service: str = "cleanrooms") -> Any:
        """A boto3 client of ``service`` acting as ``account`` in its region."""
        ...

    def act_as(self, account_id: str, *, member: str, region: str) -> Account | None:
        """An Account to call as for ``account_id`` without credentials of its own, if these clients can.

        The emulator simulates every account, so a member the spec no longer names can still be
        read (and its resources deleted), and the other members of a collaboration change
        request can approve it in the same apply. AWS answers only to each account's own
        credentials: None.
        """
        ...

    def close(self) -> None:
        """Release what the clients hold (the local database file)."""
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

    def __init__(self, path: Path | None = None, *, parallelism: int = 16) -> None:
        from reconciler import emulator  # the service, reached only through its boto3 clients

        #: The emulator itself (tests and the demo reach it as a member would, through its clients).
        self.service = emulator.connect(path if path is not None else emulator.DEFAULT_PATH)
        self._config = _client_config(parallelism, max_attempts=1)
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, account: Account, service: str = "cleanrooms") -> Any:
        key = (account.account_id, account.region, service)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.service.client(
                    service, account_id=account.account_id, region=account.region, config=self._config
                )
            return self._clients[key]

    def act_as(self, account_id: str, *, member: str, region: str) -> Account:
        return Account(member, account_id, region)

    def close(self) -> None:
        """Release the emulator's database (its clients stop working)."""
        self.service.close()

    # -- what other AWS services answer on AWS ----------------------------------------------

    @property
    def results_root(self) -> Path:
        """Where protected-query results land: ``s3://BUCKET/KEY`` is ``results_root/BUCKET/KEY``."""
        return self.service.results_root

    def bind_table(
        self, account_id: str, database: str, table: str, path: Path, *, recheck: bool = False
    ) -> bool:
        """Tell the Glue stand-in that ``database.table`` of ``account_id`` is the file ``path``.

        This is what AWS Glue knows about a real table: without it a protected query finds no
        data. The binding persists in the local database, and is read again whenever the file's
        content changed (its sha256), so a column added to the data is in the table's schema.

        Args:
            account_id: the table owner's account.
            database: the Glue database name (``tableReference.glue.databaseName``).
            table: the Glue table name.
            path: the CSV or Parquet file.
            recheck: hash the file even when its size and modification time did not change.

        Returns:
            True when the binding was written, False when it already named this file as it is.
        """
        known = self.service.catalog.lookup(account_id, database, table)
        if known is not None and self.service.catalog.current(known, path, recheck=recheck):
            return False
        self.service.catalog.register(account_id, database, table, path)
        return True


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
        self._sessions: dict[str, Any] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def credentials_for(self, account: Account) -> tuple[str | None, str | None]:
        """The (profile, role ARN) used for ``account``, environment first."""
        suffix = _env_name(account.member)
        profile = self._environ.get(f"RECONCILER_AWS_PROFILE_{suffix}") or account.profile
        role = self._environ.get(f"RECONCILER_AWS_ROLE_ARN_{suffix}") or account.role_arn
        return profile, role

    def client(self, account: Account, service: str = "cleanrooms") -> Any:
        key = (account.account_id, account.region, service)
        with self._lock:
            if key not in self._clients:
                session = self._sessions.get(account.account_id)
                if session is None:
                    session = self._sessions[account.account_id] = self._session(account)
                self._clients[key] = session.client(service, region_name=account.region, config=self._config)
            return self._clients[key]

    def act_as(self, account_id: str, *, member: str, region: str) -> None:
        return None

    def close(self) -> None:
        """Nothing to release: AWS's clients hold no local resources."""

    def _session(self, account: Account) -> Any:
        """The account's session: its profile, then its role assumed (once per account)."""
        profile, role = self.credentials_for(account)
        session = self._session_factory(profile_name=profile) if profile else self._session_factory()
        if not role:
            return session
        sts = session.client("sts", region_name=account.region, config=self._config)
        try:
            creds = sts.assume_role(RoleArn=role, RoleSessionName="cleanrooms-reconciler")["Credentials"]
        except Exception as exc:  # noqa: BLE001 - every botocore failure becomes a BackendError
            raise translate_error(exc, "AssumeRole") from None
        return self._session_factory(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )


class Accounts:
    """The member accounts a backend acts as, by (id, region) and by member key.

    An account works in every region where one of its collaborations lives, and each region is
    its own Account: clients, reads and steps of one region never reach another. The list grows
    during a read when the clients can act as a member account the spec no longer names
    (``ClientSource.act_as``); thread-safe, since the read's workers meet members.

    Args:
        accounts: the accounts to act as (the first of each id and region wins).
        clients: who answers the calls.
        names: account id -> member key of every member of the stack, also those the backend
            does not act as (``--as`` on AWS), so observed members are named by key.
    """

    def __init__(self, accounts: Sequence[Account], clients: ClientSource, names: Mapping[str, str]) -> None:
        self._clients = clients
        self._list = list({(a.account_id, a.region): a for a in reversed(accounts)}.values())[::-1]
        self._by_key = {(a.account_id, a.region): a for a in self._list}
        self._by_id: dict[str, Account] = {}
        for a in self._list:
            self._by_id.setdefault(a.account_id, a)
        self._by_member: dict[str, Account] = {}
        for a in self._list:
            self._by_member.setdefault(a.member, a)
        #: Account id -> member key, for every member the stack names.
        self.names = {**names, **{a.account_id: a.member for a in self._list}}
        self._refused: set[str] = set()
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[Account]:
        with self._lock:
            return iter(list(self._list))

    def __len__(self) -> int:
        return len(self._list)

    def find(self, member: str | None, account_id: str | None, region: str | None = None) -> Account:
        """The Account a step or resource acts as: by account id, else member key; in ``region``.

        An account of the stack is acted as with the same credentials in every region.

        Raises:
            TerminalBackendError: neither is an account the backend acts as.
        """
        found = self._by_id.get(account_id or "") or self._by_member.get(member or "")
        if found is not None and region is not None and region != found.region:
            found = self._in_region(found.account_id, region)
        if found is None:
            raise TerminalBackendError(
                f"no credentials or account known for member {member or account_id!r}",
                hint="the member must be declared in the spec's collaboration members",
            )
        return found

    def get(self, account_id: str, region: str | None = None) -> Account | None:
        """The Account of ``account_id`` (in ``region``, when given), if the backend acts as it."""
        if region is None:
            return self._by_id.get(account_id)
        return self._by_key.get((account_id, region))

    def also_in(self, account_id: str, region: str) -> None:
        """Act as the stack's account ``account_id`` in ``region`` too (where the cache saw its resources)."""
        self._in_region(account_id, region)

    def _in_region(self, account_id: str, region: str, *, new_only: bool = False) -> Account | None:
        """``account_id`` in ``region``: its Account there, made from its credentials when new.

        With ``new_only``, None unless this call made it (a read crawls each Account once).
        """
        with self._lock:
            found = self._by_key.get((account_id, region))
            if found is not None:
                return None if new_only else found
            known = self._by_id.get(account_id)
            if known is None:
                return None
            found = self._by_key[(account_id, region)] = replace(known, region=region)
            self._list.append(found)
            return found

    def join(self, account_id: str, *, member: str, region: str) -> Account | None:
        """Act as ``account_id`` in ``region`` too, when it can (a member met during a read).

        Returns:
            The new Account; None when it is acted as there already, or nobody can act as it.
        """
        if account_id in self._by_id:  # the stack's account, maybe in another region
            return self._in_region(account_id, region, new_only=True)
        with self._lock:
            account = self._clients.act_as(account_id, member=member, region=region)
            if account is None or (account_id, region) in self._by_key:
                return None
            self._list.append(account)
            self._by_key[(account_id, region)] = account
            self._by_id.setdefault(account_id, account)
            self._by_member.setdefault(account.member, account)
            return account

    def first_refusal(self, account_id: str) -> bool:
        """True the first time a member account is met that nobody can act as and the stack does not name."""
        with self._lock:
            if account_id in self._by_id or account_id in self.names or account_id in self._refused:
                return False
            self._refused.add(account_id)
            return True
