"""``reconciler serve``: the local backend over HTTP on 127.0.0.1, for the AWS CLI, SDKs and Terraform.

Serves the workspace's ``.reconciler/local.duckdb`` (the file every local command uses) until
Ctrl-C or SIGTERM; the library function is ``reconciler.emulator.server.serve``. Requests act as
the account their access key id names (``AWS_ACCESS_KEY_ID=111122223333``).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import click

from reconciler.emulator.identity import ACCOUNT_ID
from reconciler.emulator.query_runner import DEFAULT_TIMEOUT
from reconciler.emulator.server import TableBinding, serve
from reconciler.errors import ReconcilerError

_TABLE = re.compile(r"(\d{12}):([^.=]+)\.([^=]+)=(.+)")


def _tables(values: tuple[str, ...]) -> list[TableBinding]:
    out = []
    for value in values:
        hit = _TABLE.fullmatch(value)
        if hit is None:
            example = "111122223333:sales.orders=data/orders.csv"
            raise click.BadParameter(
                f"{value!r} is not ACCOUNT:DATABASE.TABLE=FILE (e.g. {example})", param_hint="--table"
            )
        account, database, table, path = hit.groups()
        out.append(TableBinding(account, database, table, Path(path)))
    return out


@contextlib.contextmanager
def _log(target: str | None) -> Iterator[TextIO | None]:
    if target is None:
        yield None
    elif target == "-":
        yield sys.stderr
    else:
        try:
            handle = Path(target).open("a", encoding="utf-8")
        except OSError as exc:
            raise ReconcilerError(
                f"cannot write the request log {target}: {exc.strerror or exc}",
                hint="pass another --request-log path, or - for standard error",
            ) from None
        with handle:
            yield handle


@click.command("serve")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port (0: any free one)."
)
@click.option(
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Directory whose .reconciler/local.duckdb is served.",
)
@click.option("--request-log", default=None, metavar="FILE|-", help="Log one line per request (- : stderr).")
@click.option(
    "--default-account",
    default=None,
    metavar="ACCOUNT_ID",
    help="Account for access key ids that are not 12-digit account ids (default: refuse them).",
)
@click.option(
    "--query-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds after which an unfinished protected query ends TIMED_OUT.",
)
@click.option(
    "--table",
    "tables",
    multiple=True,
    metavar="ACCOUNT:DATABASE.TABLE=FILE",
    help="Bind a Glue table of an account to a local CSV/Parquet file (repeatable).",
)
def command(
    port: int,
    workspace: Path,
    request_log: str | None,
    default_account: str | None,
    query_timeout: float,
    tables: tuple[str, ...],
) -> int:
    """Serve the local backend over HTTP on 127.0.0.1 until Ctrl-C.

    Point any AWS client at it: aws --endpoint-url http://127.0.0.1:8765 cleanrooms list-collaborations
    """
    if default_account is not None and not ACCOUNT_ID.fullmatch(default_account):
        raise click.BadParameter(
            f"{default_account!r} is not a 12-digit account id", param_hint="--default-account"
        )
    bindings = _tables(tables)
    with _log(request_log) as log:
        serve(
            workspace,
            port,
            announce=click.echo,
            request_log=log,
            default_account=default_account,
            query_timeout=query_timeout,
            tables=bindings,
        )
    return 0
