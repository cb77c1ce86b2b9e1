"""``reconciler serve``: the emulator over HTTP on 127.0.0.1, for any client that takes an endpoint.

The AWS CLI (``--endpoint-url``), SDKs (``endpoint_url``, ``AWS_ENDPOINT_URL_CLEANROOMS``) and
Terraform (the provider's ``endpoints`` block) send REST-JSON requests here; ``EmulatorServer``
turns each into a ``protocol.WireRequest`` and answers it with ``Emulator.handle``, the dispatch
the in-process boto3 clients use, so both transports answer identically. The service is the one
the request's SigV4 credential scope names (its signing name: ``cleanrooms``; a service whose
handlers are registered, such as ``cleanroomsml`` later, is served by the same port), and the
calling account comes from the access key id (``identity``).

The listener binds 127.0.0.1 only: the emulator checks no signatures, so it must not be reachable
from another machine. Browsers cannot drive it either: every request needs a SigV4
``Authorization`` header, which a cross-origin page can send only after a CORS preflight this
server never grants.

It is the standard library's ``ThreadingHTTPServer``: no dependency, HTTP/1.1 keep-alive (botocore
and the Go SDK pool connections), a thread per connection; requests are serialized on the
emulator's store lock anyway, and protected queries run on the emulator's own runner thread.
``serve`` is the command: it opens the workspace's DuckDB file as every local command does
(``.reconciler/local.duckdb``, held for as long as the server runs), optionally binds tables in
the Glue stand-in, serves until SIGINT or SIGTERM, then stops accepting, lets requests in flight
finish, stops the query runner and releases the file. An optional request log gets one line per
request: time, client, account, service, operation, status, error code, milliseconds.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from reconciler.aws_model import service_model
from reconciler.emulator import Emulator, connect
from reconciler.emulator.errors import LocalBackendError, ServiceError
from reconciler.emulator.protocol import (
    EmulatorRoutingError,
    WireRequest,
    WireResponse,
    error_response,
    signature,
)
from reconciler.emulator.query_runner import DEFAULT_TIMEOUT
from reconciler.emulator.registry import OPERATIONS

__all__ = ["HOST", "MAX_BODY", "EmulatorServer", "TableBinding", "serve"]

#: The only address the server listens on.
HOST = "127.0.0.1"
#: The largest request body accepted (the API's largest inputs, query texts of 500 KB, fit easily).
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class TableBinding:
    """A Glue table of an account, bound to a local CSV or Parquet file (``serve --table``)."""

    account_id: str
    database: str
    table: str
    path: Path


class EmulatorServer:
    """An emulator answering HTTP on ``127.0.0.1:port`` (port 0: a free port the OS picks).

    Args:
        emulator: the open emulator to answer with (the caller closes it).
        port: the TCP port.
        request_log: where to write one line per request (None: nowhere).

    Raises:
        LocalBackendError: the port cannot be bound (in use, or not allowed).
    """

    def __init__(self, emulator: Emulator, port: int = 0, *, request_log: TextIO | None = None) -> None:
        self.emulator = emulator
        self._log = request_log
        self._log_lock = threading.Lock()
        self._services = {service_model(s).signing_name: s for s in OPERATIONS}
        try:
            self._httpd = _Listener((HOST, port), _handler(self))
        except OSError as exc:
            raise LocalBackendError(
                f"cannot listen on {HOST}:{port}: {exc.strerror or exc}",
                hint="pick another --port (0 picks a free one), or stop what is using this one",
            ) from None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The endpoint URL clients use: ``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> EmulatorServer:
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="reconciler-serve", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish, close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one request --------------------------------------------------------------------------

    def answer(self, request: WireRequest) -> tuple[str, WireResponse]:
        """The service a request is for, and the emulator's answer to it (never raises)."""
        signed = signature(request)
        service = self._services.get(signed.service, "") if signed is not None else "cleanrooms"
        if signed is not None and not service:
            served = ", ".join(sorted(self._services))
            message = f"this endpoint serves {served}; the request was signed for {signed.service}"
            error = ServiceError("UnrecognizedClientException", message)
            return signed.service, error_response(service_model("cleanrooms"), error)
        try:
            return service, self.emulator.handle(service, request)
        except EmulatorRoutingError as exc:
            error = ServiceError("UnknownOperationException", f"{exc}: not an operation of {service}")
        except LocalBackendError as exc:
            error = ServiceError("InternalServerException", f"the local backend cannot answer: {exc.message}")
        return service, error_response(service_model(service), error)

    def logged(self, client: str, service: str, response: WireResponse, seconds: float) -> None:
        """Append one line to the request log."""
        if self._log is None:
            return
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = (
            f"{now} {client} {response.account or '-'} {service} {response.operation or '-'} "
            f"{response.status} {response.error or '-'} {seconds * 1000:.1f}ms\n"
        )
        with self._log_lock:
            self._log.write(line)
            self._log.flush()


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _handler(server: EmulatorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "reconciler-emulator"
        # Headers and body leave in one write (flushed after each request), without Nagle's delay.
        wbufsize = -1
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            """Silence the standard library's stderr log; ``--request-log`` replaces it."""

        def _answer(self) -> None:
            started = time.perf_counter()
            try:
                body = _read_body(self)
            except ServiceError as error:
                self.close_connection = True  # the rest of the body is unread: the connection is done
                self._send(error_response(service_model("cleanrooms"), error))
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            service, wire = server.answer(WireRequest(self.command, self.path, headers, body))
            self._send(wire)
            server.logged(self.client_address[0], service, wire, time.perf_counter() - started)

        def _send(self, wire: WireResponse) -> None:
            self.send_response(wire.status)
            for name, value in wire.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(wire.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(wire.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

    return Handler


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body (Content-Length or chunked).

    Raises:
        ServiceError: the answer for a body that is too large, or a malformed length.
    """
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise ServiceError(
                    "RequestEntityTooLargeException", f"the request body is over {MAX_BODY} bytes"
                )
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    text = handler.headers.get("Content-Length", "0") or "0"
    if not text.isdigit():
        raise ServiceError("SerializationException", f"Content-Length {text!r} is not a number")
    length = int(text)
    if length > MAX_BODY:
        raise ServiceError("RequestEntityTooLargeException", f"the request body is over {MAX_BODY} bytes")
    return handler.rfile.read(length) if length else b""


@contextmanager
def _until_signalled() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (the previous handlers come back after).

    Signal handlers can only be set in the main thread; elsewhere (tests) only the event stops it.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def serve(
    workspace: Path,
    port: int,
    *,
    announce: Callable[[str], None],
    request_log: TextIO | None = None,
    default_account: str | None = None,
    query_timeout: float | None = DEFAULT_TIMEOUT,
    tables: Sequence[TableBinding] = (),
    stop: threading.Event | None = None,
) -> None:
    """Serve the workspace's local backend over HTTP until SIGINT/SIGTERM (or ``stop`` is set).

    Args:
        workspace: the directory whose ``.reconciler/local.duckdb`` is served (the CLI's file).
        port: the TCP port on 127.0.0.1 (0: a free one, announced).
        announce: prints a line for the user (where it listens, how to stop, that it stopped).
        request_log: where to write one line per request, or None.
        default_account: the account for access key ids that are not account ids (``identity``).
        query_timeout: seconds after which an unfinished protected query is TIMED_OUT.
        tables: Glue tables to bind to local files before serving.
        stop: an event that ends serving (tests); SIGINT and SIGTERM set it too.

    Raises:
        LocalBackendError: the file is held by another process, a table file is unusable, or the
            port cannot be bound.
    """
    path = workspace / ".reconciler" / "local.duckdb"
    with connect(path, default_account=default_account, query_timeout=query_timeout) as emulator:
        for binding in tables:
            emulator.catalog.register(binding.account_id, binding.database, binding.table, binding.path)
        server = EmulatorServer(emulator, port, request_log=request_log)
        with _until_signalled() as signalled:
            server.start()
            services = ", ".join(sorted(OPERATIONS))
            announce(f"Serving the local backend ({services}) at {server.url}")
            announce(f"  state: {path.resolve()}")
            announce(
                "  credentials: AWS_ACCESS_KEY_ID=<12-digit account id> (any secret key) acts as that account"
            )
            announce("Press Ctrl-C to stop.")
            try:
                while not signalled.wait(0.2):
                    if stop is not None and stop.is_set():
                        break
            finally:
                server.stop()
        announce(f"Stopped; the state is kept in {path.resolve()}.")
