"""The apply half of the every-field test: a change to each updatable field of each resource type
applies on the local backend, the observed state then matches it, and a second plan is empty.

The cases are a table (``CASES``): a Kind, a field, and a valid new value.
``test_every_updatable_field_is_covered`` fails when the registry gains an updatable field that
has neither a case nor a written reason (``NOT_LOCAL``) why it cannot be changed on an example
stack.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import SPECS, raise_quotas

from reconciler import workflow
from reconciler.execution.executor import Executor
from reconciler.planner.addresses import Kind
from reconciler.planner.normal_form import canonical
from reconciler.planner.registry import REGISTRY
from reconciler.planner.resource import DesiredResource

Mutate = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Case:
    """Change ``field`` of the first ``kind`` resource of ``stack`` with ``mutate``."""

    stack: str
    kind: Kind
    field: str
    mutate: Mutate

    @property
    def id(self) -> str:
        return f"{self.kind.value}:{self.field}"


def _set(field: str, value: Any) -> Mutate:
    def mutate(attrs: dict[str, Any]) -> None:
        attrs[field] = copy.deepcopy(value)

    return mutate


def _edit(path: str, value: Any) -> Mutate:
    def mutate(attrs: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node = attrs
        for part in head:
            node = node[part][0] if isinstance(node[part], list) else node[part]
        node[last] = value

    return mutate


def _drop_column(column: str) -> Mutate:
    def mutate(attrs: dict[str, Any]) -> None:
        attrs["allowedColumns"] = [c for c in attrs["allowedColumns"] if c != column]

    return mutate


def _add_receiver(account: str) -> Mutate:
    def mutate(attrs: dict[str, Any]) -> None:
        custom = attrs["analysisRulePolicy"]["v1"]["custom"]
        custom["allowedResultReceivers"] = sorted({*custom["allowedResultReceivers"], account})

    return mutate


RA = "retail-adtech"
OB = "org-a-org-b"
ML = "ml-lookalike"
AMC = "amc-multiparty"
CASES = [
    Case(RA, Kind.COLLABORATION, "name", _set("name", "renamed-collaboration")),
    Case(RA, Kind.COLLABORATION, "description", _set("description", "a new description")),
    Case(RA, Kind.COLLABORATION, "tags", _set("tags", {"team": "other", "cost-center": "42"})),
    Case(
        RA,
        Kind.COLLABORATION,
        "autoApprovedChangeRequestTypes",
        _set("autoApprovedChangeRequestTypes", ["ADD_MEMBER"]),
    ),
    Case(RA, Kind.MEMBERSHIP, "queryLogStatus", _set("queryLogStatus", "DISABLED")),
    Case(RA, Kind.MEMBERSHIP, "tags", _set("tags", {"owner": "data-team"})),
    Case(
        RA,
        Kind.MEMBERSHIP,
        "defaultResultConfiguration",
        _edit("defaultResultConfiguration.outputConfiguration.s3.keyPrefix", "moved/"),
    ),
    Case(RA, Kind.CONFIGURED_TABLE, "name", _set("name", "renamed_table")),
    Case(RA, Kind.CONFIGURED_TABLE, "description", _set("description", "a new description")),
    Case(RA, Kind.CONFIGURED_TABLE, "tags", _set("tags", {"pii": "hashed"})),
    Case(RA, Kind.CONFIGURED_TABLE, "allowedColumns", _drop_column("channel")),
    Case(
        RA,
        Kind.ANALYSIS_RULE,
        "analysisRulePolicy",
        _edit("analysisRulePolicy.v1.custom.aggregationThresholds.minimumIdentityCount", 50),
    ),
    Case(RA, Kind.ASSOCIATION, "roleArn", _set("roleArn", "arn:aws:iam::987654321098:role/OtherTableRole")),
    Case(RA, Kind.ASSOCIATION, "tags", _set("tags", {"shared": "yes"})),
    Case(RA, Kind.ASSOCIATION, "description", _set("description", "a new description")),
    Case(RA, Kind.ASSOCIATION_RULE, "analysisRulePolicy", _add_receiver("987654321098")),
    Case(OB, Kind.ANALYSIS_TEMPLATE, "description", _set("description", "a new description")),
    Case(OB, Kind.ANALYSIS_TEMPLATE, "tags", _set("tags", {"reviewed": "yes"})),
    Case(OB, Kind.PRIVACY_BUDGET_TEMPLATE, "parameters", _edit("parameters.differentialPrivacy.epsilon", 2)),
    Case(OB, Kind.PRIVACY_BUDGET_TEMPLATE, "tags", _set("tags", {"budget": "q3"})),
    Case(
        ML,
        Kind.MEMBER,
        "mlMemberAbilities",
        _set("mlMemberAbilities", {"customMLMemberAbilities": ["CAN_RECEIVE_MODEL_OUTPUT"]}),
    ),
    Case(ML, Kind.TRAINING_DATASET, "tags", _set("tags", {"data": "reading-events"})),
    Case(ML, Kind.AUDIENCE_MODEL, "tags", _set("tags", {"model": "v2"})),
    Case(ML, Kind.CONFIGURED_AUDIENCE_MODEL, "description", _set("description", "a new description")),
    Case(ML, Kind.CONFIGURED_AUDIENCE_MODEL, "tags", _set("tags", {"use": "campaigns"})),
    Case(ML, Kind.CONFIGURED_AUDIENCE_MODEL, "minMatchingSeedSize", _set("minMatchingSeedSize", 200)),
    Case(
        ML, Kind.CONFIGURED_AUDIENCE_MODEL, "sharedAudienceMetrics", _set("sharedAudienceMetrics", ["NONE"])
    ),
    Case(
        ML,
        Kind.CONFIGURED_AUDIENCE_MODEL,
        "audienceSizeConfig",
        _set("audienceSizeConfig", {"audienceSizeType": "ABSOLUTE", "audienceSizeBins": [100, 300]}),
    ),
    Case(
        ML,
        Kind.CONFIGURED_AUDIENCE_MODEL,
        "outputConfig",
        _edit("outputConfig.destination.s3Destination.s3Uri", "s3://publisher-audiences/moved/"),
    ),
    Case(
        ML,
        Kind.CONFIGURED_AUDIENCE_MODEL_POLICY,
        "configuredAudienceModelPolicy",
        _set("configuredAudienceModelPolicy", '{"Statement":[],"Version":"2012-10-17"}'),
    ),
    Case(
        ML,
        Kind.CONFIGURED_AUDIENCE_MODEL_ASSOCIATION,
        "configuredAudienceModelAssociationName",
        _set("configuredAudienceModelAssociationName", "readers-renamed"),
    ),
    Case(ML, Kind.CONFIGURED_AUDIENCE_MODEL_ASSOCIATION, "description", _set("description", "a new one")),
    Case(ML, Kind.CONFIGURED_AUDIENCE_MODEL_ASSOCIATION, "tags", _set("tags", {"shared": "yes"})),
    Case(ML, Kind.CONFIGURED_MODEL_ALGORITHM, "tags", _set("tags", {"image": "1.4"})),
    Case(ML, Kind.CONFIGURED_MODEL_ALGORITHM_ASSOCIATION, "tags", _set("tags", {"shared": "yes"})),
    Case(
        ML,
        Kind.ML_CONFIGURATION,
        "defaultOutputLocation",
        _edit("defaultOutputLocation.destination.s3Destination.s3Uri", "s3://outdoor-brand-ml/moved/"),
    ),
    Case(ML, Kind.ML_INPUT_CHANNEL, "tags", _set("tags", {"purpose": "propensity"})),
    Case(AMC, Kind.ID_NAMESPACE_ASSOCIATION, "name", _set("name", "advertiser crm ids")),
    Case(AMC, Kind.ID_NAMESPACE_ASSOCIATION, "description", _set("description", "a new one")),
    Case(AMC, Kind.ID_NAMESPACE_ASSOCIATION, "tags", _set("tags", {"source": "crm"})),
    Case(
        AMC,
        Kind.ID_NAMESPACE_ASSOCIATION,
        "idMappingConfig",
        _set("idMappingConfig", {"allowUseAsDimensionColumn": True}),
    ),
    Case(AMC, Kind.ID_MAPPING_TABLE, "description", _set("description", "a new one")),
    Case(AMC, Kind.ID_MAPPING_TABLE, "tags", _set("tags", {"match": "email"})),
    Case(
        AMC,
        Kind.ID_MAPPING_TABLE,
        "kmsKeyArn",
        _set("kmsKeyArn", "arn:aws:kms:us-east-1:259687042315:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    ),
]

#: Updatable fields no example stack can change locally, and why (each needs a reason).
NOT_LOCAL = {
    (
        Kind.COLLABORATION,
        "analyticsEngine",
    ): "SPARK is the only engine AWS accepts now, and the stacks use it",
    (
        Kind.MEMBER,
        "memberAbilities",
    ): "only CAN_RECEIVE_RESULTS can change, and it is required by result configurations",
    (Kind.MEMBERSHIP, "jobLogStatus"): "needs a collaboration with job logging (no example runs jobs)",
    (Kind.MEMBERSHIP, "defaultJobResultConfiguration"): "needs CAN_RUN_JOB (no example runs jobs)",
    (Kind.MEMBERSHIP, "paymentConfiguration"): (
        "a membership accepts exactly the responsibilities the creator assigned (the collaboration's"
        " payment configuration, which is create-only), so every other value is a ValidationException"
    ),
    (Kind.CONFIGURED_AUDIENCE_MODEL, "audienceModelArn"): "the example has one audience model",
    (
        Kind.CONFIGURED_TABLE,
        "tableReference",
    ): "a new table reference needs another catalog table with the same columns",
    (Kind.CONFIGURED_TABLE, "analysisMethod"): "the custom rules of the examples need DIRECT_QUERY",
    (Kind.CONFIGURED_TABLE, "selectedAnalysisMethods"): "only with analysisMethod MULTIPLE (see above)",
}


def test_every_updatable_field_is_covered() -> None:
    covered = {(c.kind, c.field) for c in CASES} | set(NOT_LOCAL)
    wanted = {(kind, f) for kind, d in REGISTRY.items() for f in d.updatable}
    assert wanted - covered == set(), "add a case (or a reason in NOT_LOCAL) for these fields"
    assert covered - wanted == set(), "these cases name fields the registry does not call updatable"


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], workflow.Workspace]]:
    """A stack applied once on its own local backend (on first use)."""
    spaces: dict[str, workflow.Workspace] = {}

    def get(name: str) -> workflow.Workspace:
        if name not in spaces:
            root = Path(tmp_path_factory.mktemp(name))
            raise_quotas(name, root)  # amc-multiparty's nine accounts exceed the default invitee quota
            ws = workflow.open_workspace(SPECS / name, root=root)
            spaces[name] = ws
            _apply(ws, ws.desired())
        return spaces[name]

    yield get
    for ws in spaces.values():
        ws.close()


def _apply(ws: workflow.Workspace, desired: list[DesiredResource]) -> workflow.Outcome:
    outcome = workflow.make_plan(ws, desired=desired)
    result = Executor(ws.backend, stack=ws.name).run(outcome.plan, outcome.state)
    assert result.ok, [(s.id, e.message) for s, e in result.failed]
    return outcome


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_updatable_field_applies(case: Case, applied: Callable[[str], workflow.Workspace]) -> None:
    ws = applied(case.stack)
    baseline = ws.desired()
    target = next(r for r in baseline if r.kind is case.kind)
    attrs = copy.deepcopy(dict(target.attributes))
    case.mutate(attrs)
    changed = replace(target, attributes=canonical(case.kind, attrs))
    assert changed.attributes != target.attributes, "the case must change something"
    desired = [changed if r.address == target.address else r for r in baseline]
    outcome = _apply(ws, desired)
    (change,) = [c for c in outcome.plan.changes if c.address == target.address]
    assert change.action.value == "update", change
    after = workflow.make_plan(ws, desired=desired)
    assert _changes_at(after, target) == []
    now = after.state.get(target.address)
    assert now is not None and now.attributes.get(case.field) == changed.attributes.get(case.field)
    # and back: reverting the field (possibly to "absent") applies too
    _apply(ws, baseline)
    assert _changes_at(workflow.make_plan(ws, desired=baseline), target) == []


def _changes_at(outcome: workflow.Outcome, target: DesiredResource) -> list[Any]:
    return [c.field_diffs for c in outcome.plan.changes if c.address == target.address]
