"""One plan Step carried out: Refs resolved from the State, one call, the resource as it now is.

``run`` resolves the Step's ``Ref`` parameters to the ids, ARNs and account ids of resources in
the current State, adds the identity tags to a create, makes the call as the Step's account
(retrying transient failures), and reports the resource as it is after the call (None after a
delete). A collaboration change request is carried as far as the clients allow: where they can
act as the other members (locally) those approve and the creator commits, so one apply does
everything; on AWS the Step reports whom the request waits for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.errors import RetryableBackendError, TerminalBackendError
from reconciler.execution.clients import Account, Accounts, ClientSource
from reconciler.execution.crawl import own_id
from reconciler.execution.retry import Backoff, with_retries
from reconciler.execution.state import State, identity_tags
from reconciler.planner.model import Step
from reconciler.planner.registry import ResourceType, descriptor
from reconciler.planner.resource import ObservedResource, Ref

__all__ = ["Call", "StepResult", "run"]

#: One API call: (account, operation, parameters, service) -> response; BackendErrors on failure.
Call = Callable[[Account, str, Mapping[str, Any], str], dict[str, Any]]


@dataclass(frozen=True)
class StepResult:
    """What one Step did: the resource as it now is (None after a delete) and retries taken."""

    step: Step
    resource: ObservedResource | None
    retries: int = 0
    note: str = ""


def run(
    step: Step,
    state: State,
    stack: str,
    *,
    call: Call,
    accounts: Accounts,
    clients: ClientSource,
    retry: Backoff,
    on_retry: Callable[[int, RetryableBackendError], None] | None = None,
) -> StepResult:
    """Perform one Step: resolve its Refs from ``state``, call, and report the new resource.

    Args:
        step: the plan Step.
        state: what exists now (observed, plus results of earlier steps).
        stack: the stack name (for identity tags on create).
        call: makes one API call.
        accounts: the accounts the backend acts as (the Step names its own).
        clients: who answers (whether other members can approve a change request here).
        retry: the retry policy.
        on_retry: told about each retry.

    Returns:
        The StepResult: the resource as it is after the step, None after a delete.

    Raises:
        BackendError: the call failed (after retries), or a Ref names nothing in ``state``.
    """
    d = descriptor(step.address.kind)
    params = _resolve(step.params, state, step)
    if step.role == "create" and d.taggable:
        params["tags"] = {**dict(params.get("tags") or {}), **identity_tags(stack, step.address)}
    account = accounts.find(step.owner, step.account_id, step.region)
    retries = 0

    def note(n: int, exc: RetryableBackendError) -> None:
        nonlocal retries
        retries = n
        if on_retry is not None:
            on_retry(n, exc)

    response = with_retries(lambda: call(account, step.operation, params, d.service), retry, on_retry=note)
    remark = ""
    if step.role == "change_request":
        remark = _see_through(response, account, call=call, accounts=accounts, clients=clients, retry=retry)
    return StepResult(step, _after(step, d, response, state, account), retries, remark)


def _see_through(
    response: Mapping[str, Any],
    creator: Account,
    *,
    call: Call,
    accounts: Accounts,
    clients: ClientSource,
    retry: Backoff,
) -> str:
    """Carry a collaboration change request as far as these clients may; say where it stands.

    Where the clients can act as every member (locally) the other members approve and the
    creator commits. On AWS the other members approve in their own accounts; the step then
    reports whom the request waits for, and a later plan shows it as pending.
    """
    request = dict(response.get("collaborationChangeRequest") or {})
    ids = {
        "collaborationIdentifier": request.get("collaborationId"),
        "changeRequestIdentifier": request.get("id"),
    }
    waiting = sorted(a for a, v in (request.get("approvals") or {}).items() if v.get("status") == "PENDING")

    def act(who: Account, action: str) -> dict[str, Any]:
        params = {**ids, "action": action}
        answer = with_retries(
            lambda: call(who, "UpdateCollaborationChangeRequest", params, "cleanrooms"), retry
        )
        return dict(answer["collaborationChangeRequest"])

    if request.get("status") == "PENDING":
        for account_id in waiting:
            proxy = clients.act_as(account_id, member=account_id, region=creator.region)
            if proxy is None:
                break  # only the member itself can approve
            request = act(accounts.get(account_id, creator.region) or proxy, "APPROVE")
    if request.get("status") == "APPROVED":
        request = act(creator, "COMMIT")
    if request.get("status") == "PENDING":
        return f"change request {ids['changeRequestIdentifier']} waits for approval by {', '.join(waiting)}"
    return f"change request {request.get('status', '').lower()}"


def _after(
    step: Step, d: ResourceType, response: Mapping[str, Any], state: State, account: Account
) -> ObservedResource | None:
    """The resource after a step (attributes from the step; ids from the response)."""
    previous = state.get(step.address)
    if step.role == "delete":
        # A create-then-delete replacement deletes the old resource after the new one exists.
        if previous is not None and previous.id and previous.id not in _strings(step.params):
            return previous
        return None
    raw = d.resource_in(response) if step.role in ("create", "update") else None
    attributes = dict(previous.attributes) if previous is not None else {}
    if step.role == "create":
        attributes = {k: v for k, v in step.params.items() if k in d.fields}
    elif step.role == "update":
        attributes.update({k: v for k, v in step.params.items() if k in d.fields})
    if isinstance(raw, Mapping):
        attributes.update({k: raw[k] for k in d.outputs if k in raw})  # what the service computed
        arn = raw.get(d.arn_field) if d.arn_field else None
        arn = arn or (previous.arn if previous else None)
        return ObservedResource(
            step.address,
            attributes,
            owner=step.owner,
            account_id=account.account_id,
            id=own_id(d.kind, raw, step.params),
            arn=arn,
            region=account.region,
        )
    if previous is not None:
        return ObservedResource(
            step.address,
            attributes,
            owner=previous.owner,
            account_id=previous.account_id,
            id=previous.id,
            arn=previous.arn,
            region=previous.region or account.region,
        )
    return ObservedResource(
        step.address, attributes, owner=step.owner, account_id=account.account_id, region=account.region
    )


def _strings(value: Any) -> set[str]:
    """Every string inside nested parameters."""
    if isinstance(value, Mapping):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_strings(v) for v in value)) if value else set()
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
