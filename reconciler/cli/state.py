"""``reconciler state list|show|rebuild|unlock|mv|rm``: look at and repair what the stack manages.

``list`` and ``show`` read the state cache (``.reconciler/state.json``, or the stack's remote
state: ``execution.remote``) and make no Clean Rooms call; ``rebuild`` re-reads every resource by
its tags and rewrites the cache (the cache is never the source of truth, so this is always safe);
``unlock`` removes a stack lock (local or remote) left by an apply that was killed, or with
``--force`` the lock of an apply that hangs; ``mv`` gives a resource a new address (its identity
tag is rewritten) and ``rm`` stops managing one (its identity tags are removed), both without
changing anything else about it.
"""

from __future__ import annotations

import json

import click

from reconciler import workflow
from reconciler.cli.plan import backend_option, warn
from reconciler.errors import StateError
from reconciler.execution import lock, remote
from reconciler.execution.state import StateCache, resource_json
from reconciler.workflow import inventory


def _cached(stack: str | None, backend: str) -> tuple[str, StateCache]:
    name, cache, notes = inventory.cache_of(stack, backend)
    warn(tuple(notes))
    return name, cache


@click.group("state")
def command() -> None:
    """Inspect the state cache, rebuild it from tags, or break a stale lock."""


@command.command("list")
@click.argument("stack", required=False)
@backend_option
def list_(stack: str | None, backend: str) -> int:
    """List the addresses STACK manages, as cached (no API call)."""
    name, cache = _cached(stack, backend)
    state = cache.load(backend, name)
    warn((cache.problem,) if cache.problem else ())
    if not len(state):
        click.echo(
            f"No cached state for stack {name} on {backend}; `reconciler state rebuild` reads it from tags."
        )
        return 0
    width = max(len(str(r.address)) for r in state)
    for r in state:
        click.echo(f"{str(r.address):<{width}}  {r.id or '-'}  ({r.owner or r.account_id or '?'})")
    return 0


@command.command("show")
@click.argument("address")
@click.argument("stack", required=False)
@backend_option
def show(address: str, stack: str | None, backend: str) -> int:
    """Show the cached resource at ADDRESS (id, ARN, owner, attributes) as JSON."""
    wanted = inventory.parse_address(address)
    name, cache = _cached(stack, backend)
    resource = cache.load(backend, name).get(wanted)
    warn((cache.problem,) if cache.problem else ())
    if resource is None:
        raise StateError(
            f"{wanted} is not in the cached state of stack {name} on {backend}",
            hint="`reconciler state list` shows the cached addresses; `state rebuild` refreshes them",
        )
    click.echo(json.dumps(resource_json(resource), indent=2, sort_keys=True, default=str))
    return 0


@command.command("rebuild")
@click.argument("stack", required=False)
@backend_option
def rebuild(stack: str | None, backend: str) -> int:
    """Read STACK's resources by their tags and rewrite the cache."""
    with workflow.open_workspace(stack, backend=backend) as ws, workflow.remote_lock(ws):
        result = inventory.rebuild(ws)  # remote state is written by the lock's holder only
        warn(tuple(ws.backend.problems))
    if result.problem:
        click.echo(f"The old cache was not usable: {result.problem}", err=True)
    for label, addresses in (
        ("added", result.added),
        ("dropped", result.dropped),
        ("changed", result.changed),
    ):
        for address in addresses:
            click.echo(f"  {label}: {address}")
    click.echo(f"State rebuilt from tags: {len(result.state)} resource(s).")
    return 0


@command.command("unlock")
@click.argument("stack", required=False)
@backend_option
@click.option("--force", is_flag=True, help="Also remove the lock of a holder that still runs (it hangs).")
def unlock(stack: str | None, backend: str, force: bool) -> int:
    """Clear the lock record of an interrupted apply of STACK (--force: also a hung one's lock)."""
    _, cache = _cached(stack, backend)
    if isinstance(cache, remote.RemoteStateCache):
        where = cache.store.url
        holder = remote.break_remote_lock(cache, force=force)
    else:
        path = inventory.stack_lock_path(stack, backend)
        where = str(path)
        holder = lock.break_lock(path, force=force)
    if holder is None:
        click.echo(f"{where} was not locked.")
    else:
        click.echo(f"Removed the lock of {holder.describe()}.")
        click.echo("Run `reconciler plan` to see the work the interrupted apply left.")
    return 0


@command.command("mv")
@click.argument("source", metavar="FROM")
@click.argument("destination", metavar="TO")
@click.argument("stack", required=False)
@backend_option
@click.option(
    "--lock-timeout", type=click.FloatRange(0, 86400), default=0.0, help="Seconds to wait for the lock."
)
def mv(source: str, destination: str, stack: str | None, backend: str, lock_timeout: float) -> int:
    """Manage the resource at FROM (and what lives under it) as TO from now on; nothing else changes."""
    inventory.parse_address(source)
    inventory.parse_address(destination)
    with lock.hold(inventory.stack_lock_path(stack, backend), timeout=lock_timeout):
        with (
            workflow.open_workspace(stack, backend=backend) as ws,
            workflow.remote_lock(ws, timeout=lock_timeout),
        ):
            result = inventory.move(ws, source, destination)
            warn(tuple(ws.backend.problems))
    for before, after in result.pairs:
        click.echo(f"  {before} -> {after}")
    click.echo(f"Moved {len(result.pairs)} resource(s); {result.tagged} identity tag(s) rewritten.")
    return 0


@command.command("rm")
@click.argument("address")
@click.argument("stack", required=False)
@backend_option
@click.option(
    "--lock-timeout", type=click.FloatRange(0, 86400), default=0.0, help="Seconds to wait for the lock."
)
def rm(address: str, stack: str | None, backend: str, lock_timeout: float) -> int:
    """Stop managing the resource at ADDRESS (and what lives under it); it is left as it is."""
    inventory.parse_address(address)
    with lock.hold(inventory.stack_lock_path(stack, backend), timeout=lock_timeout):
        with (
            workflow.open_workspace(stack, backend=backend) as ws,
            workflow.remote_lock(ws, timeout=lock_timeout),
        ):
            result = inventory.forget(ws, address)
            warn(tuple(ws.backend.problems))
    for before, _ in result.pairs:
        click.echo(f"  {before}: no longer managed")
    click.echo(f"Stopped managing {len(result.pairs)} resource(s); they still exist, untouched.")
    if result.still_declared:
        names = ", ".join(str(a) for a in result.still_declared)
        click.echo(
            f"warning: the spec still declares {names}; the next plan would create them again:"
            " remove them from the spec, or `reconciler import` them back",
            err=True,
        )
    return 0
