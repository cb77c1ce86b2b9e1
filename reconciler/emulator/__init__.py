"""The embedded local backend: an in-process AWS Clean Rooms service behind real boto3 clients.

``connect(path=None, *, now=None)`` opens the emulator (a DuckDB file, or memory for None) and
returns an ``Emulator``; ``Emulator.client("cleanrooms", account_id=..., region=...)`` is a
real boto3 client whose requests are answered in-process by a ``before-send`` handler: routed
by the service model's HTTP bindings, validated against the model, dispatched to the handler
table of that service, committed to DuckDB, and answered as the service answers (REST-JSON,
AWS error codes). A service is emulated once handlers are registered for it (``cleanrooms``
today; ``cleanroomsml`` resource types would join ``resource_types.EMULATED_TYPES``). No
request ever reaches the network, unless ``reconciler serve`` (``server``) puts the same
dispatch behind an HTTP listener on 127.0.0.1 for the AWS CLI, Terraform and other SDKs. The
calling account is read from the request's SigV4 credential (``identity``): the client's access
key is ``LOCAL<account id>`` in process, or the 12-digit account id itself, so one emulator
serves many accounts.

Interfaces for other packages:

- Handlers: ``reconciler.emulator.registry.operation(name, service=...)`` registers
  ``handler(ctx, params)`` for an operation (see ``registry``); ``ctx`` is a
  ``context.RequestContext`` with the caller, clock, store, catalog, results root and
  permission-aware lookups.
- ``Emulator.catalog.register(account_id, database, table, path)`` binds a Glue table reference
  to a local CSV/Parquet file (persisted); ``Emulator.catalog.lookup(...)`` reads it back.
- ``Emulator.results_root``: where ``s3://BUCKET/KEY`` results land (``results_root/BUCKET/KEY``).
- ``IMPLEMENTED_OPERATIONS`` (what is answered) and ``REQUIRED_OPERATIONS`` (what the
  reconciler needs; a contract test checks the second is inside the first).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HeadersDict
from botocore.config import Config

from reconciler.aws_model import service_model
from reconciler.emulator import (  # noqa: F401 - importing a module registers its handlers
    change_requests,
    collaborations,
    id_mapping,
    ml_containers,
    ml_jobs,
    ml_resources,
    privacy_budgets,
    protected_jobs,
    protected_queries,
    resource_types,
    tags,
    views,
)
from reconciler.emulator.catalog import Catalog, CatalogEntry
from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import (
    LocalBackendError,
    LocalBackendLockedError,
    LocalFaultsError,
    ServiceError,
)
from reconciler.emulator.errors import validation as validation_error
from reconciler.emulator.faults import Faults
from reconciler.emulator.id_mapping import EntityResolution
from reconciler.emulator.identity import account_of
from reconciler.emulator.protocol import (
    EmulatorRoutingError,
    Router,
    WireRequest,
    WireResponse,
    error_response,
    parse_request,
    respond,
    signature,
)
from reconciler.emulator.query_runner import DEFAULT_TIMEOUT, Mode, QueryRunner
from reconciler.emulator.quotas import QUOTA_FILE, QuotaError, QuotaLimits
from reconciler.emulator.registry import OPERATIONS, handler, operation, register
from reconciler.emulator.store import Regional, Store
from reconciler.emulator.tokens import PageTokens
from reconciler.emulator.validation import validate_input

__all__ = [
    "DEFAULT_PATH",
    "IMPLEMENTED_OPERATIONS",
    "REQUIRED_OPERATIONS",
    "CatalogEntry",
    "Emulator",
    "EmulatorRoutingError",
    "LocalBackendError",
    "LocalBackendLockedError",
    "LocalFaultsError",
    "RequestContext",
    "ServiceError",
    "connect",
    "operation",
    "register",
]

#: Where the CLI keeps the local backend, relative to the working directory.
DEFAULT_PATH = Path(".reconciler") / "local.duckdb"

#: Clean Rooms operations the reconciler relies on; each must be implemented (a contract test checks).
REQUIRED_OPERATIONS: tuple[str, ...] = tuple(
    f"{verb}{resource}"
    for resource in (
        "Collaboration",
        "Membership",
        "ConfiguredTable",
        "ConfiguredTableAnalysisRule",
        "ConfiguredTableAssociation",
        "ConfiguredTableAssociationAnalysisRule",
        "AnalysisTemplate",
        "PrivacyBudgetTemplate",
    )
    for verb in ("Create", "Get", "Update", "Delete")
) + (
    "ListCollaborations",
    "ListMemberships",
    "ListConfiguredTables",
    "ListConfiguredTableAssociations",
    "ListAnalysisTemplates",
    "ListPrivacyBudgetTemplates",
    "ListMembers",
    "DeleteMember",
    "GetCollaborationAnalysisTemplate",
    "ListCollaborationAnalysisTemplates",
    "BatchGetCollaborationAnalysisTemplate",
    "GetCollaborationPrivacyBudgetTemplate",
    "ListCollaborationPrivacyBudgetTemplates",
    "GetSchema",
    "ListSchemas",
    "BatchGetSchema",
    "GetSchemaAnalysisRule",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "CreateCollaborationChangeRequest",
    "GetCollaborationChangeRequest",
    "ListCollaborationChangeRequests",
    "UpdateCollaborationChangeRequest",
)

#: Every Clean Rooms operation the emulator answers (the handler table after all modules registered).
IMPLEMENTED_OPERATIONS: frozenset[str] = frozenset(OPERATIONS["cleanrooms"])

_log = logging.getLogger(__name__)


@functools.cache
def _router(service: str) -> Router:
    return Router(service_model(service))


@functools.cache
def _botocore_session() -> botocore.session.Session:
    """One shared session that ignores AWS_PROFILE, so a user's AWS setup cannot break local runs."""
    return botocore.session.Session(session_vars={"profile": (None, None, None, None)})


class _Body:
    """The minimal raw-stream object ``AWSResponse.content`` reads from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Emulator:
    """An open local backend: boto3 clients, the Glue stand-in, and the results directory.

    Use ``connect()``; close it (or use it as a context manager) when done.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        now: Callable[[], dt.datetime] | None = None,
        lock_timeout: float = 5.0,
        default_account: str | None = None,
        limits: QuotaLimits | None = None,
        queries: Mode = "background",
        query_timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        self.faults = Faults.from_env()
        self.path = path
        self.default_account = default_account
        #: The quotas in effect (AWS's defaults unless raised, by ``limits`` or the quota file).
        self.limits = limits or _quota_file(path)
        self.store = Store.open(path, lock_timeout=lock_timeout)
        self.catalog = Catalog(self.store)
        #: The local stand-in for AWS Entity Resolution (ID namespaces, ID mapping workflows).
        self.entity_resolution = EntityResolution(self.store)
        self.tokens = PageTokens.of(self.store)
        self._clock = now or _utc_now
        self._temp_results: Path | None = None
        if path is None:
            self._temp_results = Path(tempfile.mkdtemp(prefix="reconciler-results-"))
            self.results_root = self._temp_results
        else:
            self.results_root = path.parent / "results"
            self.results_root.mkdir(parents=True, exist_ok=True)
        #: Runs protected queries (``query_runner``); ``queries.run_pending()`` is the run-now hook.
        self.queries = QueryRunner(
            self.store,
            self._query_context,
            self.results_root / ".staging",
            mode=queries,
            timeout=query_timeout,
        )

    def client(
        self,
        service_name: str = "cleanrooms",
        account_id: str = "123456789012",
        region: str = "us-east-1",
        *,
        config: Config | None = None,
    ) -> Any:
        """A boto3 client for ``service_name`` acting as ``account_id`` in ``region``, answered here.

        Args:
            service_name: an emulated service (one with handlers: ``cleanrooms`` today).
            account_id: the 12-digit calling account.
            region: the client's region (appears in ARNs).
            config: optional botocore Config (e.g. retries); merged over the defaults.

        Raises:
            LocalBackendError: the service or account id is not supported.
        """
        if service_name not in OPERATIONS:
            raise LocalBackendError(
                f"the local backend does not emulate {service_name!r} yet", hint="use --backend aws for it"
            )
        if not re.fullmatch(r"\d{12}", account_id):
            raise LocalBackendError(f"account id {account_id!r} is not 12 digits")
        client = _botocore_session().create_client(
            service_name,
            region_name=region,
            aws_access_key_id=f"LOCAL{account_id}",
            aws_secret_access_key="local-secret",
            config=config,
        )
        client.meta.events.register(
            f"before-send.{service_name}", functools.partial(self.answer, service_name)
        )
        return client

    def now(self) -> dt.datetime:
        """The emulator's clock (timezone-aware UTC)."""
        value = self._clock()
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    def answer(self, service: str, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        """The before-send handler every client of ``client()`` has: answer one HTTP request in-process.

        Args:
            service: the service the client is for.
            request: the signed request botocore was about to send.

        Returns:
            The HTTP response AWS would give (errors included, as AWS sends them).

        Raises:
            EmulatorRoutingError: the request matches no operation of the model (a bug).
        """
        body = request.body
        raw = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else b""
        if body is not None and not isinstance(body, bytes | str):
            raw = body.read()
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()
        }
        wire = WireRequest(request.method or "GET", request.url, headers, raw)
        answer = self.handle(service, wire)
        return AWSResponse(request.url, answer.status, HeadersDict(answer.headers), _Body(answer.body))

    def handle(self, service: str, request: WireRequest) -> WireResponse:
        """Answer one request of ``service`` as the service would, whichever transport carried it.

        Args:
            service: an emulated service (``cleanrooms``).
            request: the request.

        Returns:
            The response (an error answer for anything the service would refuse).

        Raises:
            EmulatorRoutingError: no operation of the model matches (the HTTP server answers 404).
            LocalBackendError: the local backend itself cannot answer.
        """
        model = service_model(service)
        trace: dict[str, str] = {}
        try:
            return self._dispatch(service, request, trace)
        except ServiceError as error:
            answer = error_response(model, error)
        except (EmulatorRoutingError, LocalBackendError):
            raise
        except Exception as exc:  # noqa: BLE001 - a handler bug is answered as AWS answers its own bugs
            _log.exception("local backend handler failed")
            message = f"internal error in the local backend ({type(exc).__name__}: {exc}); a reconciler bug"
            answer = error_response(model, ServiceError("InternalServerException", message))
        return dataclasses.replace(
            answer, operation=trace.get("operation", ""), account=trace.get("account", "")
        )

    def _dispatch(self, service: str, request: WireRequest, trace: dict[str, str]) -> WireResponse:
        signed = signature(request)
        if signed is None:
            raise ServiceError(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token: sign requests with SigV4 (any secret key works locally)",
            )
        account = account_of(signed.access_key_id, self.default_account)
        if account is None:
            raise ServiceError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid: locally, the access key id is the "
                "12-digit account to act as",
            )
        trace["account"] = account
        op, params = parse_request(request, _router(service))
        trace["operation"] = op.name
        faults = self.faults
        if faults.active:
            faults.before_call()
        validate_input(op.input_shape, params)
        answer = handler(op.name, service)
        if answer is None:
            raise validation_error(
                f"{op.name} is not supported by the local backend", reason="INVALID_CONFIGURATION"
            )
        store = self.store
        paging = None
        if op.input_shape is not None and "nextToken" in op.input_shape.members:
            paging = self.tokens.paging(op.name, account, params)
        ctx = RequestContext(
            account,
            signed.region,
            op,
            Regional(store, signed.region),
            self.catalog,
            self.results_root,
            self.now,
            paging,
            self.limits,
            self.queries,
        )
        with store.lock:
            try:
                output = answer(ctx, params)
            except BaseException:
                store.rollback()
                raise
            wrote = store.has_pending_writes
            store.commit()
            if wrote and faults.active:
                faults.after_write()
        return dataclasses.replace(respond(op, output), account=account)

    def _query_context(self, record: dict[str, Any]) -> RequestContext:
        """The context a protected query's run phases work in: its owner's account and Region."""
        op = service_model("cleanrooms").operation_model("StartProtectedQuery")
        region = str(record["membershipArn"]).split(":")[3]
        return RequestContext(
            record["_account"],
            region,
            op,
            Regional(self.store, region),
            self.catalog,
            self.results_root,
            self.now,
            None,
            self.limits,
            self.queries,
        )

    def close(self) -> None:
        """Stop the query runner, then release the DuckDB file (and a temporary results directory)."""
        self.queries.close()
        self.store.close()
        if self._temp_results is not None:
            shutil.rmtree(self._temp_results, ignore_errors=True)
            self._temp_results = None

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _quota_file(path: Path | None) -> QuotaLimits:
    """The quota file next to the database (``.reconciler/quotas.yaml``), as ``QuotaLimits``."""
    if path is None:
        return QuotaLimits()
    try:
        return QuotaLimits.from_file(path.parent / QUOTA_FILE)
    except QuotaError as exc:
        raise LocalBackendError(
            str(exc),
            hint="only adjustable quotas of the AWS Clean Rooms quotas page can be raised, never lowered",
        ) from None


def connect(
    path: str | Path | None = None,
    *,
    now: Callable[[], dt.datetime] | None = None,
    lock_timeout: float = 5.0,
    default_account: str | None = None,
    limits: QuotaLimits | None = None,
    queries: Mode = "background",
    query_timeout: float | None = DEFAULT_TIMEOUT,
) -> Emulator:
    """Open the local Clean Rooms backend.

    Args:
        path: the DuckDB file (created if missing); None keeps everything in memory. The CLI
            passes ``DEFAULT_PATH``.
        now: optional clock returning the current ``datetime`` (tests move it).
        lock_timeout: seconds to wait for another process that holds the file.
        default_account: the account a request acts as when its access key id is not an account
            id (``identity``); None refuses such requests.
        limits: the quotas in effect (``quotas.QuotaLimits``); default: AWS's defaults, raised by
            the quota file ``quotas.yaml`` next to ``path`` when there is one.
        queries: how protected queries run: ``background`` (a thread, as AWS runs them) or
            ``manual`` (only when ``Emulator.queries.run_pending()`` and friends are called).
        query_timeout: seconds from its creation after which an unfinished query is TIMED_OUT.

    Returns:
        The ``Emulator``.

    Raises:
        LocalBackendLockedError: another process keeps the file busy beyond ``lock_timeout``.
        LocalFaultsError: ``RECONCILER_LOCAL_FAULTS`` is invalid.
        LocalBackendError: the quota file is invalid or raises what Service Quotas would not.
    """
    return Emulator(
        Path(path) if path is not None else None,
        now=now,
        lock_timeout=lock_timeout,
        default_account=default_account,
        limits=limits,
        queries=queries,
        query_timeout=query_timeout,
    )
