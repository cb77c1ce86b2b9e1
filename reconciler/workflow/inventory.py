"""Inventory: what a stack manages, as the state cache remembers it and as the tags say it is.

The functions behind ``reconciler state list|show|rebuild|unlock`` and ``reconciler import``.
Identity lives in the cloud (the ``reconciler:stack`` / ``reconciler:address`` tags, see
``state.identity_tags``); the cache only remembers it. ``rebuild`` re-reads the tags and
rewrites the cache; ``adopt`` (``import``) brings a resource made outside the tool under
management by tagging it with its address, after checking that the spec declares that address,
that the resource exists in the owner's account, and that no stack claims it already. Untaggable
kinds (analysis rules, members) are never imported on their own: they are found through their
parent. ``move`` (``state mv``) gives resources a new address by rewriting their identity tags, and
``forget`` (``state rm``) stops managing them by removing those tags; neither changes anything
else about the resources. This module calls the API only through the Workspace's backend.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler import workflow
from reconciler.errors import ReconcilerError, SpecError, StateError, TerminalBackendError
from reconciler.execution import remote
from reconciler.execution.clients import LocalClients
from reconciler.execution.lock import lock_path
from reconciler.execution.retry import Backoff, with_retries
from reconciler.execution.state import ADDRESS_TAG, STACK_TAG, State, StateCache, identity_tags
from reconciler.planner import moves
from reconciler.planner.addresses import Address, parse
from reconciler.planner.registry import descriptor
from reconciler.planner.resource import DesiredResource, ObservedResource, Ref
from reconciler.spec import load_stack

__all__ = [
    "Adopted",
    "Rebuilt",
    "Relabelled",
    "adopt",
    "cache_of",
    "forget",
    "move",
    "parse_address",
    "rebuild",
    "stack_lock_path",
    "stack_name_of",
]


def parse_address(text: str) -> Address:
    """Parse a user-typed Address, as a ReconcilerError (with the expected form) when it is not one."""
    try:
        return parse(text)
    except ValueError as exc:
        raise StateError(
            f"{text!r} is not an address: {exc}",
            hint="addresses look like configured_table.OWNER.TABLE; `reconciler state list` shows them",
        ) from None


def stack_name_of(stack: str | None) -> str:
    """The stack's name from its path alone (no YAML read: works on a spec that does not load)."""
    root = workflow.find_stack(stack).resolve()
    return root.stem if root.is_file() else root.name


def stack_lock_path(stack: str | None, backend: str, root: Path | None = None) -> Path:
    """The lock file of ``stack`` on ``backend`` under the working directory ``root``."""
    return lock_path(root or workflow.workspace_root(), backend, stack_name_of(stack))


def cache_of(stack: str | None, backend: str) -> tuple[str, StateCache, list[str]]:
    """The stack's name, its state cache (local, or remote per ``execution.remote``) and notes.

    For the commands that read the cache without opening the backend (``state list|show|unlock``).
    A spec that does not load still has a local cache (the commands worked on such specs before
    remote state existed); a note says that a ``kind: RemoteState`` in it is not seen.
    """
    name = stack_name_of(stack)
    notes = []
    try:
        documents = load_stack(workflow.find_stack(stack)).remote_state
    except SpecError:
        documents = []
        if not os.environ.get(remote.ENV_VAR):
            notes.append(
                "the spec does not load (`reconciler validate` says why), so a `kind: RemoteState` in it"
                f" is not seen: this is the local state (set {remote.ENV_VAR} to name a remote one)"
            )
    config = remote.configured(documents)
    if config is not None:
        return name, remote.RemoteStateCache(remote.open_store(config), backend, name), notes
    return name, StateCache(workflow.workspace_root() / ".reconciler" / "state.json"), notes


@dataclass(frozen=True)
class Rebuilt:
    """What ``rebuild`` found: the State read from tags, and how the cache differed from it.

    Args:
        state: the State now cached.
        added: addresses the old cache lacked.
        dropped: addresses the old cache had that the backend no longer holds.
        changed: addresses whose id or ARN differed.
        problem: why the old cache could not be used ("" when it could).
    """

    state: State
    added: tuple[Address, ...]
    dropped: tuple[Address, ...]
    changed: tuple[Address, ...]
    problem: str = ""


def rebuild(ws: workflow.Workspace) -> Rebuilt:
    """Re-read the stack's resources by their tags and rewrite the cache.

    On the local backend the tables' ``localData`` files are read again too (hashed, whatever
    their modification times say), so the Glue stand-in's schemas are what the files hold.

    Args:
        ws: the workspace.

    Returns:
        The Rebuilt comparison (old cache vs what the tags say).
    """
    if isinstance(ws.backend.clients, LocalClients):
        workflow.bind_local_data(ws.backend.clients, ws.stack, recheck=True)
    old = ws.cache.load(ws.backend.name, ws.name)
    problem = ws.cache.problem
    new = ws.read()
    added = tuple(sorted(a for a in new.resources if a not in old.resources))
    dropped = tuple(sorted(a for a in old.resources if a not in new.resources))
    changed = tuple(
        sorted(
            a
            for a, r in new.resources.items()
            if a in old.resources and (old.resources[a].id, old.resources[a].arn) != (r.id, r.arn)
        )
    )
    return Rebuilt(new, added, dropped, changed, problem)


@dataclass(frozen=True)
class Adopted:
    """An imported resource.

    Args:
        resource: as observed after tagging.
        already: it was already managed at this address (nothing was changed).
    """

    resource: ObservedResource
    already: bool = False


def _declared(ws: workflow.Workspace, address: Address) -> DesiredResource:
    desired = {r.address: r for r in ws.desired()}
    if address in desired:
        return desired[address]
    close = difflib.get_close_matches(str(address), [str(a) for a in desired], n=1)
    raise StateError(
        f"the spec of stack {ws.name!r} does not declare {address}",
        hint=f"did you mean {close[0]}?" if close else "declare it in the spec first, then import it",
    )


def _resolve(value: Any, address: Address, resource_id: str, state: State) -> Any:
    """Replace Refs: the imported resource's own id by ``resource_id``, others from ``state``."""
    if isinstance(value, Ref):
        if value.address == address:
            return resource_id
        target = state.get(value.address)
        found = None if target is None else {"id": target.id, "arn": target.arn}.get(value.field)
        if found is None:
            raise StateError(
                f"{address} lives under {value.address}, which this stack does not manage yet",
                hint=f"import {value.address} first (or apply the stack so that it is created)",
            )
        return found
    if isinstance(value, Mapping):
        return {k: _resolve(v, address, resource_id, state) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve(v, address, resource_id, state) for v in value]
    return value


def adopt(ws: workflow.Workspace, address_text: str, resource_id: str) -> Adopted:
    """Bring the existing resource ``resource_id`` under management at ``address_text``.

    Args:
        ws: the workspace (its stack must declare the address).
        address_text: where the resource goes (``configured_table.adtech.impressions``).
        resource_id: the service's id of the resource (as the console or CLI shows it).

    Returns:
        The Adopted resource; the state cache includes it.

    Raises:
        StateError: undeclared or untaggable address, a parent not managed yet, another
            resource already at the address, a resource another stack (or address) claims.
        BackendError: the resource does not exist in the owner's account, or a call failed.
    """
    address = parse_address(address_text)
    d = descriptor(address.kind)
    if not d.taggable or d.get is None:
        raise StateError(
            f"{address.kind} resources cannot be imported on their own: they carry no tags and are"
            " identified by their parent",
            hint="import the parent; its analysis rules and members are then found with it",
        )
    if not resource_id or len(resource_id) > 2048 or not resource_id.isprintable():
        raise StateError(f"{resource_id!r} is not a resource id")
    wanted = _declared(ws, address)
    state = ws.read()
    current = state.get(address)
    if current is not None:
        if resource_id in (current.id, current.arn):
            return Adopted(current, already=True)
        raise StateError(
            f"{address} is already managed as {current.id}; a stack holds one resource per address",
            hint="delete the other resource, or import this one under another address",
        )
    account = ws.backend.account_for(wanted.owner, wanted.account_id, wanted.region)
    params = _resolve(d.request("get", wanted), address, resource_id, state)
    get = d.get

    def call(operation: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
        return with_retries(lambda: ws.backend.call(account, operation, parameters, d.service), Backoff())

    try:
        raw = d.resource_in(call(get, params))
    except TerminalBackendError as exc:
        raise TerminalBackendError(
            f"cannot import {resource_id!r} as {address}: {exc.message}",
            code=exc.code,
            operation=exc.operation,
            hint=f"give the id of an existing {address.kind} of account {account.account_id} "
            f"({wanted.owner}), as the Clean Rooms console or the AWS CLI shows it"
            + (f"; {exc.hint}" if exc.hint else ""),
        ) from None
    arn = str(raw.get(d.arn_field, ""))
    tags = dict(call("ListTagsForResource", {"resourceArn": arn}).get("tags", {}))
    if tags.get(STACK_TAG) and (tags.get(STACK_TAG), tags.get(ADDRESS_TAG)) != (ws.name, str(address)):
        raise StateError(
            f"{resource_id} is already managed by stack {tags.get(STACK_TAG)!r} as {tags.get(ADDRESS_TAG)}",
            hint="a resource belongs to one stack; remove it from the other stack's management first",
        )
    call("TagResource", {"resourceArn": arn, "tags": identity_tags(ws.name, address)})
    after = ws.read()
    imported = after.get(address)
    if imported is None:  # pragma: no cover - the backend just tagged it
        raise ReconcilerError(
            f"{address} was tagged but is not found by its tags; run `reconciler state rebuild`"
        )
    return Adopted(imported)


@dataclass(frozen=True)
class Relabelled:
    """What ``move`` or ``forget`` did.

    Args:
        pairs: (address before, address after) of every resource moved; after is None when forgotten.
        tagged: how many resources had their identity tags rewritten (or removed).
        still_declared: addresses the spec still declares that the stack no longer manages (``forget``):
            the next plan creates them again unless they leave the spec.
    """

    pairs: tuple[tuple[Address, Address | None], ...]
    tagged: int
    still_declared: tuple[Address, ...] = ()


def _tag_call(
    ws: workflow.Workspace, resource: ObservedResource, operation: str, params: Mapping[str, Any]
) -> None:
    account = ws.backend.account_for(resource.owner, resource.account_id, resource.region)
    service = descriptor(resource.address.kind).service
    with_retries(lambda: ws.backend.call(account, operation, params, service), Backoff())


def _under(state: State, root: Address) -> list[ObservedResource]:
    return [r for r in state if r.managed and moves.under(r.address, root)]


def move(ws: workflow.Workspace, old_text: str, new_text: str) -> Relabelled:
    """Give the resource at ``old_text`` (and what lives under it) the address ``new_text``.

    The identity tag (``reconciler:address``) of every taggable resource moved is rewritten, so
    the next read finds them at their new addresses; untaggable ones follow their parents. Nothing
    else changes. The spec must declare the new address (else the next plan would delete it).

    Raises:
        StateError: bad or different-kind addresses, nothing at the old address, the new one taken
            or not declared by the spec.
    """
    old, new = parse_address(old_text), parse_address(new_text)
    if old.kind is not new.kind or old == new:
        raise StateError(
            f"cannot move {old} to {new}: "
            + ("the same address" if old == new else "they are of different kinds"),
            hint="move a resource to another address of its own kind",
        )
    declared = {r.address for r in ws.desired()}
    if new not in declared:
        close = difflib.get_close_matches(str(new), [str(a) for a in declared if a.kind is new.kind], n=1)
        raise StateError(
            f"the spec of stack {ws.name!r} does not declare {new}",
            hint=f"did you mean {close[0]}?"
            if close
            else "declare it in the spec first (a new key or name), then move",
        )
    state = ws.read()
    found = _under(state, old)
    if not found:
        raise StateError(
            f"stack {ws.name!r} manages nothing at {old} on {ws.backend.name}",
            hint="`reconciler state list` shows the addresses it manages",
        )
    move_ = moves.Move(old, new)
    pairs = [(r, moves.relabel(r.address, move_)) for r in found]
    moving = {r.address for r in found}
    taken = sorted(str(n) for _, n in pairs if n is not None and n in state and n not in moving)
    if taken:
        raise StateError(
            f"cannot move {old} to {new}: the stack already manages {', '.join(taken)}",
            hint="`reconciler state rm` the resource to let go of first, or move to another address",
        )
    tagged = 0
    for resource, target in pairs:
        if target is not None and descriptor(resource.address.kind).taggable and resource.arn:
            _tag_call(
                ws, resource, "TagResource", {"resourceArn": resource.arn, "tags": {ADDRESS_TAG: str(target)}}
            )
            tagged += 1
    ws.read()  # the cache, from the tags as they are now
    return Relabelled(tuple((r.address, t) for r, t in pairs), tagged)


def forget(ws: workflow.Workspace, address_text: str) -> Relabelled:
    """Stop managing the resource at ``address_text`` (and what lives under it), leaving it as it is.

    Its identity tags are removed, so no later plan of the stack deletes or changes it. An
    untaggable resource (an analysis rule, a member) is found through its parent and cannot be
    forgotten on its own.

    Raises:
        StateError: a bad address, an untaggable kind, or nothing managed there.
    """
    address = parse_address(address_text)
    if not descriptor(address.kind).taggable:
        raise StateError(
            f"{address.kind} resources carry no tags: the stack finds them through their parent",
            hint="`reconciler state rm` the parent (its table, association or collaboration) to let go"
            " of both",
        )
    state = ws.read()
    found = _under(state, address)
    if not found:
        raise StateError(
            f"stack {ws.name!r} manages nothing at {address} on {ws.backend.name}",
            hint="`reconciler state list` shows the addresses it manages",
        )
    tagged = 0
    for resource in found:
        if descriptor(resource.address.kind).taggable and resource.arn:
            _tag_call(
                ws,
                resource,
                "UntagResource",
                {"resourceArn": resource.arn, "tagKeys": [STACK_TAG, ADDRESS_TAG]},
            )
            tagged += 1
    ws.read()
    declared = {r.address for r in ws.desired()}
    still = tuple(sorted(r.address for r in found if r.address in declared))
    return Relabelled(tuple((r.address, None) for r in found), tagged, still)
