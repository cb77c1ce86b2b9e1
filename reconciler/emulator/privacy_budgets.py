"""Privacy budgets in the emulator: the budget views, PreviewPrivacyImpact, and query admission.

Registers ListPrivacyBudgets, ListCollaborationPrivacyBudgets and PreviewPrivacyImpact, and wraps
UpdatePrivacyBudgetTemplate with the rules ``reconciler.dp.check_dp_update`` states (epsilon may
not be lowered once queried, autoRefresh may not change). Budgets are not stored as balances:
each privacy budget template has one budget (its id is derived from the template id) whose
ledger rows are ``privacy_budget_debit`` records in the store; ``reconciler.dp`` computes what
remains from them and the emulator's clock.

``admit_protected_query`` is what StartProtectedQuery calls (ENGINE's ``protected_queries``)
after the query passed the rule checks and before it reads data: it checks the DP budget and
every access budget the query touches and appends the debits, or raises a ValidationException
naming what is short and writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.dp import (
    AccessBudgetParams,
    Accountant,
    AggregateType,
    BudgetExhausted,
    BudgetUpdateRefused,
    Debit,
    DPBudgetParams,
    check_dp_update,
    preview_privacy_impact,
)
from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import validation
from reconciler.emulator.registry import handler, operation, register
from reconciler.emulator.resource_types import listing
from reconciler.emulator.store import Record, Regional, Store

__all__ = ["LEDGER_KIND", "StoreLedger", "admit_protected_query", "budget_id"]

#: Store kind of ledger rows (one per admitted query and budget).
LEDGER_KIND = "privacy_budget_debit"
_TEMPLATE_KIND = "privacy_budget_template"
_NAMESPACE = uuid.UUID("6f1d7c1e-3a52-4d0e-9a55-5b1c4f0d2a11")


def budget_id(template_id: str) -> str:
    """The id of the budget a template defines (stable, so ledger rows survive restarts)."""
    return str(uuid.uuid5(_NAMESPACE, template_id))


class StoreLedger:
    """``reconciler.dp.LedgerStore`` over the emulator's store (writes commit with the call)."""

    def __init__(self, store: Store | Regional) -> None:
        self.store = store

    def debits(self, budget: str) -> Sequence[Debit]:
        rows = self.store.find(LEDGER_KIND, budget_id=budget)
        return sorted((Debit.from_row(r) for r in rows), key=lambda d: d.time)

    def append(self, debits: Sequence[Debit]) -> None:
        for debit in debits:
            self.store.put(LEDGER_KIND, f"{debit.budget_id}/{debit.query_id}", debit.to_row())


def _params(record: Record) -> DPBudgetParams | AccessBudgetParams:
    if record["privacyBudgetType"] == "DIFFERENTIAL_PRIVACY":
        return DPBudgetParams.from_template(record)
    return AccessBudgetParams.from_template({**record, "updateTime": _time(record["updateTime"])})


def _time(value: Any) -> datetime:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value  # type: ignore[no-any-return]


def _accountant(ctx: RequestContext) -> Accountant:
    return Accountant(StoreLedger(ctx.store), clock=ctx.now)


def _budget(ctx: RequestContext, record: Record) -> dict[str, Any]:
    params = _params(record)
    accountant = _accountant(ctx)
    if isinstance(params, DPBudgetParams):
        return {"differentialPrivacy": accountant.dp_budget(budget_id(record["id"]), params)}
    return {"accessBudget": accountant.access_budget(budget_id(record["id"]), params)}


def _summary(ctx: RequestContext, record: Record, *, collaboration_view: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": budget_id(record["id"]),
        "privacyBudgetTemplateId": record["id"],
        "privacyBudgetTemplateArn": record["arn"],
        "collaborationId": record["collaborationId"],
        "collaborationArn": record["collaborationArn"],
        "type": record["privacyBudgetType"],
        "createTime": record["createTime"],
        "updateTime": record["updateTime"],
        "budget": _budget(ctx, record),
    }
    if collaboration_view:
        out["creatorAccountId"] = record["_account"]
    else:
        out["membershipId"] = record["membershipId"]
        out["membershipArn"] = record["membershipArn"]
    return out


def _templates(ctx: RequestContext, collaboration_id: str, params: dict[str, Any]) -> list[Record]:
    records = ctx.store.find(
        _TEMPLATE_KIND, collaborationId=collaboration_id, privacyBudgetType=params["privacyBudgetType"]
    )
    resource = params.get("accessBudgetResourceArn")
    if resource:
        records = [
            r for r in records if r["parameters"].get("accessBudget", {}).get("resourceArn") == resource
        ]
    return records


@operation("ListPrivacyBudgets")
def list_privacy_budgets(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The collaboration's budgets of one type, with what remains now, seen from a membership."""
    membership = ctx.own_membership(params["membershipIdentifier"])
    records = _templates(ctx, membership["collaborationId"], params)
    return listing(
        ctx, records, params, "privacyBudgetSummaries", lambda r: _summary(ctx, r, collaboration_view=False)
    )


@operation("ListCollaborationPrivacyBudgets")
def list_collaboration_privacy_budgets(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The same budgets as any member of the collaboration sees them."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    records = _templates(ctx, collaboration["id"], params)
    return listing(
        ctx,
        records,
        params,
        "collaborationPrivacyBudgetSummaries",
        lambda r: _summary(ctx, r, collaboration_view=True),
    )


@operation("PreviewPrivacyImpact")
def preview_privacy_impact_handler(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """How many aggregations of each type a hypothetical DP policy allows; changes nothing."""
    ctx.own_membership(params["membershipIdentifier"])
    dp = params["parameters"].get("differentialPrivacy")
    if dp is None:
        raise validation("parameters.differentialPrivacy is required", field="parameters")
    impact = preview_privacy_impact(int(dp["epsilon"]), int(dp["usersNoisePerQuery"]))
    return {"privacyImpact": {"differentialPrivacy": impact}}


def _checked_update(original: Any) -> Any:
    """Wrap the generic UpdatePrivacyBudgetTemplate handler with the DP update rules."""

    def update(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any] | None:
        record = ctx.store.get(_TEMPLATE_KIND, params["privacyBudgetTemplateIdentifier"])
        new = (params.get("parameters") or {}).get("differentialPrivacy")
        if record is not None and record["privacyBudgetType"] == "DIFFERENTIAL_PRIVACY" and new:
            old = DPBudgetParams.from_template(record)
            merged = DPBudgetParams(
                int(new.get("epsilon", old.epsilon)),
                int(new.get("usersNoisePerQuery", old.users_noise_per_query)),
                old.auto_refresh,
            )
            try:
                check_dp_update(old, merged, StoreLedger(ctx.store).debits(budget_id(record["id"])))
            except BudgetUpdateRefused as exc:
                raise validation(
                    f"{exc.message}; {exc.hint}", field="parameters.differentialPrivacy"
                ) from None
        result: dict[str, Any] | None = original(ctx, params)
        return result

    return update


_generic_update = handler("UpdatePrivacyBudgetTemplate")
if _generic_update is not None:
    register("UpdatePrivacyBudgetTemplate", _checked_update(_generic_update))


def admit_protected_query(
    ctx: RequestContext,
    collaboration_id: str,
    query_id: str,
    aggregates: Sequence[AggregateType],
    association_arns: Sequence[str],
) -> DPBudgetParams | None:
    """Charge every budget a protected query uses, or refuse it having charged nothing.

    Call after the rule checks (which build the DP query) and before reading any data. A
    query that fails after this point stays charged: refunds would make errors a free probe.

    Args:
        ctx: the StartProtectedQuery request.
        collaboration_id: the collaboration the query runs in.
        query_id: the new protected query's id.
        aggregates: ``DPQuery.kinds`` when the query reads DP tables, else empty.
        association_arns: ARNs of the configured table associations the query reads.

    Returns:
        The DP policy (for ``usersNoisePerQuery``) when ``aggregates`` is not empty, else None.

    Raises:
        ServiceError: ValidationException naming each aggregate, its need and the remaining
            count (or the exhausted access budget, or the missing DP policy).
    """
    budgets: list[tuple[str, DPBudgetParams | AccessBudgetParams]] = []
    dp: DPBudgetParams | None = None
    records = ctx.store.find(_TEMPLATE_KIND, collaborationId=collaboration_id)
    if aggregates:
        dp_records = [r for r in records if r["privacyBudgetType"] == "DIFFERENTIAL_PRIVACY"]
        if not dp_records:
            raise validation(
                "tables protected by differential privacy cannot be queried until the collaboration has a "
                "differential privacy budget template (CreatePrivacyBudgetTemplate)",
                reason="INVALID_CONFIGURATION",
            )
        dp = DPBudgetParams.from_template(dp_records[0])
        budgets.append((budget_id(dp_records[0]["id"]), dp))
    for record in records:
        if record["privacyBudgetType"] == "ACCESS_BUDGET":
            if record["parameters"]["accessBudget"]["resourceArn"] in association_arns:
                budgets.append((budget_id(record["id"]), _params(record)))
    try:
        _accountant(ctx).admit(query_id, aggregates, budgets)
    except BudgetExhausted as exc:
        raise validation(exc.message, reason="INVALID_CONFIGURATION") from None
    return dp
