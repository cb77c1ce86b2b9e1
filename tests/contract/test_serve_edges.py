"""``reconciler serve`` at its edges: raw HTTP no SDK would send, and bad command lines.

Each refusal is an AWS-shaped error (status, ``x-amzn-errortype``, JSON ``message``); a bad
command line is a clear error with a non-zero exit and no traceback.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run
from contract_helpers import OWNER, http_client

from reconciler import emulator
from reconciler.emulator.server import EmulatorServer, serve

SIGNED = (
    "AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host, Signature=00"
)


@pytest.fixture
def served() -> Iterator[tuple[EmulatorServer, io.StringIO]]:
    log = io.StringIO()
    with emulator.connect() as emu, EmulatorServer(emu, 0, request_log=log) as server:
        yield server, log


def _raw(
    server: EmulatorServer, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("x-amzn-errortype", ""), json.loads(response.read())
    finally:
        connection.close()


def test_requests_no_sdk_would_send_get_aws_shaped_errors(served: tuple[EmulatorServer, io.StringIO]) -> None:
    server, _ = served
    cleanrooms = SIGNED.format(key=OWNER, service="cleanrooms")
    cases = [
        (("GET", "/collaborations"), {}, 403),  # unsigned
        (("GET", "/collaborations"), {"Authorization": SIGNED.format(key=OWNER, service="s3")}, 403),
        (
            ("GET", "/collaborations"),
            {"Authorization": SIGNED.format(key="AKIAEXAMPLE", service="cleanrooms")},
            403,
        ),
        (("GET", "/nowhere"), {"Authorization": cleanrooms}, 404),
    ]
    for (method, path), headers, status in cases:
        got, error_type, body = _raw(server, method, path, **headers)
        assert got == status, (path, headers, body)
        assert error_type and body["message"], (path, headers)
    status, error_type, body = _raw(
        server,
        "POST",
        "/collaborations",
        b"{not json",
        Authorization=cleanrooms,
        **{"Content-Type": "application/json"},
    )
    assert status == 400 and "not valid JSON" in body["message"], body
    status, error_type, body = _raw(
        server,
        "POST",
        "/collaborations",
        b"x",
        Authorization=cleanrooms,
        **{"Content-Length": str(64 * 1024 * 1024)},
    )
    assert status == 413 and "over" in body["message"], body


def test_the_request_log_has_a_line_per_request(served: tuple[EmulatorServer, io.StringIO]) -> None:
    server, log = served
    client = http_client(server.url, OWNER)
    client.list_collaborations()
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.get_collaboration(collaborationIdentifier="00000000-0000-0000-0000-000000000000")
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert f" 127.0.0.1 {OWNER} cleanrooms ListCollaborations 200 - " in lines[0]
    assert f" 127.0.0.1 {OWNER} cleanrooms GetCollaboration 403 AccessDeniedException " in lines[1]


def test_serve_stops_when_asked_and_keeps_the_state(tmp_path: Path) -> None:
    said: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=serve, args=(tmp_path, 0), kwargs={"announce": said.append, "stop": stop}
    )
    thread.start()
    try:
        for _ in range(600):
            if said and said[0].startswith("Serving"):
                break
            stop.wait(0.05)
        url = said[0].rsplit(" at ", 1)[1]
        http_client(url, OWNER).create_configured_table(
            name="kept",
            tableReference={"glue": {"databaseName": "db", "tableName": "kept"}},
            allowedColumns=["a"],
            analysisMethod="DIRECT_QUERY",
        )
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive() and said[-1].startswith("Stopped; the state is kept in")
    with emulator.connect(tmp_path / ".reconciler" / "local.duckdb") as emu:
        names = [
            t["name"]
            for t in emu.client("cleanrooms", account_id=OWNER).list_configured_tables()[
                "configuredTableSummaries"
            ]
        ]
    assert names == ["kept"]


def test_bad_command_lines_are_clear_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        cases = [
            (["--table", "orders.csv"], "is not ACCOUNT:DATABASE.TABLE=FILE"),
            (["--default-account", "me"], "is not a 12-digit account id"),
            (["--port", port], f"cannot listen on 127.0.0.1:{port}"),
            (
                ["--request-log", str(tmp_path / "no" / "such" / "dir" / "log")],
                "cannot write the request log",
            ),
        ]
        for args, message in cases:
            code, out, err = run(capsys, "serve", "--workspace", str(tmp_path), *args)
            assert code != 0, args
            assert message in out + err, (args, out, err)
            assert "Traceback" not in out + err
