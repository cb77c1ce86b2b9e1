"""Backend: reads and writes Clean Rooms resources through boto3 clients, live or local.

There is one implementation, ``Boto3Backend``; ``--backend local`` and ``--backend aws`` differ
only in who answers its clients (a ``ClientSource``: ``LocalClients``, the in-process emulator;
``AwsClients``, AWS with a profile or an assumed role per member account). ``read`` is one
``Crawl`` over every member account; ``run_step`` carries out one plan Step (``steps.run``).
Every call goes through ``call``, which counts it and translates botocore's errors at this
boundary into ``RetryableBackendError`` / ``TerminalBackendError``; nothing above this package
imports botocore.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from botocore import xform_name

from reconciler.errors import ReconcilerError, RetryableBackendError
from reconciler.execution import steps
from reconciler.execution.clients import Account, Accounts, ClientSource
from reconciler.execution.crawl import Crawl, Tally
from reconciler.execution.rates import RateLimits
from reconciler.execution.retry import Backoff, with_retries
from reconciler.execution.state import State
from reconciler.execution.steps import StepResult
from reconciler.execution.translate import translate_error
from reconciler.planner.addresses import Address
from reconciler.planner.model import Step

__all__ = ["Backend", "Boto3Backend", "StepResult"]


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
        retry: Backoff | None = None,
    ) -> StepResult:
        """Perform one Step (Refs in its parameters resolved from ``state``)."""
        ...


class Boto3Backend:
    """The one backend: boto3 clients, answered locally or by AWS.

    Args:
        clients: who answers (``LocalClients`` or ``AwsClients``).
        accounts: the member accounts the backend acts as (read from all of them).
        parallelism: worker threads for reads.
        retry: retry policy for reads (writes take the executor's).
        names: account id -> member key for every member of the stack, also those it cannot
            act as (``--as`` on AWS), so observed members are named by key.
        rates: calls per second per operation (``rates.RateLimits``); None: no limit.
    """

    def __init__(
        self,
        clients: ClientSource,
        accounts: Sequence[Account],
        *,
        parallelism: int = 16,
        retry: Backoff | None = None,
        names: Mapping[str, str] | None = None,
        rates: RateLimits | None = None,
    ) -> None:
        self.name = clients.name
        self.rates = rates
        self.clients = clients
        self.accounts = Accounts(accounts, clients, names or {})
        self.parallelism = max(1, parallelism)
        self.retry = retry or Backoff()
        self._calls = 0
        self._count_lock = threading.Lock()
        #: Notes from the last read (bad tags, member accounts that cannot be read).
        self.problems: list[str] = []
        #: Gets the last read skipped: resources whose List summary was the recorded one.
        self.reused = 0
        #: Retries taken by reads so far, and who is told about each (the CLI prints them).
        self.read_retries = 0
        self.on_read_retry: Callable[[str, int, RetryableBackendError], None] | None = None
        #: How far the current (or last) read has got: calls finished / known (a progress line).
        self.reading = Tally()
        #: Set on Ctrl-C: reads skip what is queued, apply starts no new step (the CLI sets it).
        self.stop = threading.Event()

    @property
    def calls(self) -> int:
        return self._calls

    def call(
        self, account: Account, operation: str, params: Mapping[str, Any], service: str = "cleanrooms"
    ) -> dict[str, Any]:
        """Make one API call as ``account``; botocore errors come out as BackendErrors.

        Args:
            account: who calls.
            operation: the API name (``GetMembership``).
            params: its parameters (all Refs already resolved).
            service: the service the operation belongs to.

        Returns:
            The parsed response.
        """
        with self._count_lock:
            self._calls += 1
        if self.rates is not None:
            self.rates.take(operation, f"{account.account_id}/{account.region}")
        try:
            method = getattr(self.clients.client(account, service), xform_name(operation))
            response: dict[str, Any] = method(**params)
        except ReconcilerError:
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: everything becomes a BackendError
            raise translate_error(exc, operation) from None
        return response

    def account_for(self, member: str | None, account_id: str | None, region: str | None = None) -> Account:
        """The Account a step or resource acts as (by account id, else member key; in ``region``)."""
        return self.accounts.find(member, account_id, region)

    def read(
        self,
        stack: str,
        *,
        known: State | None = None,
        refresh: str = "full",
        adopt: Mapping[Address, tuple[str | None, str | None]] | None = None,
        foreign: Mapping[Address, str] | None = None,
    ) -> State:
        """Observe every resource of ``stack``: tagged ones, and the untaggable children of those.

        Args:
            stack: the stack name (value of the ``reconciler:stack`` tag).
            known: the cached State (helps name members of accounts that left the spec).
            refresh: ``full`` reads everything; ``changed`` skips the Get of a resource whose List
                summary is the one ``known`` recorded (``execution.conditional``); ``summaries``
                also trusts that summary for its tags and List-less children.
            adopt: resources made outside the stack (``existing: true``), by Address: (id, name).
            foreign: resources of members this backend cannot act as, by Address: name.

        Returns:
            The observed State (normalized attributes, ids, ARNs, owners); ``problems`` holds
            what the user should know about the read.
        """
        crawl = Crawl(
            stack,
            accounts=self.accounts,
            call=self._read_call,
            known=known,
            refresh=refresh,
            adopt=adopt,
            foreign=foreign,
        )
        self.reading = Tally()
        state = crawl.run(self.parallelism, self.reading, self.stop)
        self.problems = list(crawl.problems)
        self.reused = crawl.reused
        return state

    def _read_call(
        self, account: Account, operation: str, params: Mapping[str, Any], service: str
    ) -> dict[str, Any]:
        def note(attempt: int, exc: RetryableBackendError) -> None:
            with self._count_lock:
                self.read_retries += 1
            if self.on_read_retry is not None:
                self.on_read_retry(operation, attempt, exc)

        return with_retries(lambda: self.call(account, operation, params, service), self.retry, on_retry=note)

    def run_step(
        self,
        step: Step,
        state: State,
        stack: str,
        *,
        on_retry: Callable[[int, RetryableBackendError], None] | None = None,
        retry: Backoff | None = None,
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
        return steps.run(
            step,
            state,
            stack,
            call=self.call,
            accounts=self.accounts,
            clients=self.clients,
            retry=retry or self.retry,
            on_retry=on_retry,
        )
