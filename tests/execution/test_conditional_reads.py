"""Conditional reads: a warm plan skips Gets, and a change made behind the tool's back is still found.

Each example stack is applied once per module and its workspace copied for each test; a first
plan after the apply records every resource's List summary (the apply's steps drop the reads of
what they touched). Each case then changes one resource straight through a boto3 client against
the emulator, as someone using the console would, and the next plan (default ``--refresh
changed``) must show the change.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import SPECS, raise_quotas, run

from reconciler import emulator, workflow
from reconciler.errors import PlanError
from reconciler.execution.conditional import ALWAYS_READ, CONDITIONAL
from reconciler.execution.executor import Executor
from reconciler.execution.state import State
from reconciler.planner.addresses import Kind, parse
from reconciler.planner.registry import REGISTRY
from reconciler.planner.resource import ObservedResource

Client = Any
#: (client, the resource as observed, the observed State) -> None: the change behind the back.
Edit = Callable[[Client, ObservedResource, State], None]


def _apply(name: str, root: Path) -> None:
    raise_quotas(name, root)
    with workflow.open_workspace(SPECS / name, root=root) as ws:
        outcome = workflow.make_plan(ws)
        result = Executor(ws.backend, stack=ws.name).run(outcome.plan, outcome.state)
        assert result.ok, result.failed
        ws.cache.save(ws.backend.name, result.state)
    with workflow.open_workspace(SPECS / name, root=root) as ws:
        assert workflow.make_plan(ws).plan.is_empty  # records the List summaries


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Path], Path]:
    """``copy(name, dest)``: the example applied once (per module), its workspace copied to ``dest``."""
    done: dict[str, Path] = {}

    def copy(name: str, dest: Path) -> Path:
        if name not in done:
            done[name] = tmp_path_factory.mktemp(name)
            _apply(name, done[name])
        shutil.copytree(done[name] / ".reconciler", dest / ".reconciler")
        return dest

    return copy


def test_every_type_is_either_conditional_on_a_summary_field_the_model_has_or_always_read() -> None:
    assert set(CONDITIONAL) | set(ALWAYS_READ) == set(REGISTRY)
    assert not set(CONDITIONAL) & set(ALWAYS_READ)
    for kind, row in CONDITIONAL.items():
        d = REGISTRY[kind]
        assert d.list is not None and d.get is not None, kind
        summary = d.model.operation_model(d.list).output_shape.members[d.list_key].member
        assert row.field in summary.members, (kind, d.list)


def test_the_readme_lists_every_type() -> None:
    readme = (SPECS.parents[1] / "README.md").read_text()
    section = readme.split("### Conditional reads", 1)[1].split("\n### ", 1)[0]
    for kind in REGISTRY:
        assert f"| `{kind.value}` |" in section, kind


def _plan(name: str, root: Path, refresh: str = "changed") -> workflow.Outcome:
    with workflow.open_workspace(SPECS / name, root=root) as ws:
        return workflow.make_plan(ws, refresh=refresh)


def test_a_warm_plan_skips_the_gets_of_unchanged_resources(
    applied: Callable[[str, Path], Path], tmp_path: Path
) -> None:
    root = applied("retail-adtech", tmp_path)
    full = _plan("retail-adtech", root, "full")
    warm = _plan("retail-adtech", root)
    assert full.plan.is_empty and warm.plan.is_empty
    assert warm.state.fingerprint() == full.state.fingerprint()  # the same State, fewer calls
    reusable = [r for r in warm.state if r.kind in CONDITIONAL]
    assert reusable and full.calls - warm.calls == len(reusable) == warm.reused
    assert full.reused == 0


def test_refresh_summaries_also_trusts_the_summary_for_tags_and_analysis_rules(
    applied: Callable[[str, Path], Path], tmp_path: Path
) -> None:
    root = applied("retail-adtech", tmp_path)
    full = _plan("retail-adtech", root, "full")
    warm = _plan("retail-adtech", root)
    trusted = _plan("retail-adtech", root, "summaries")
    assert trusted.plan.is_empty and trusted.state.fingerprint() == full.state.fingerprint()
    conditional = [r for r in full.state if r.kind in CONDITIONAL]
    # per conditional resource its ListTagsForResource is skipped too, and so is each rule's Get
    rules = [r for r in full.state if r.kind in (Kind.ANALYSIS_RULE, Kind.ASSOCIATION_RULE)]
    assert conditional and rules
    assert warm.calls - trusted.calls == len(conditional) + len(rules)
    assert trusted.reused == len(conditional) + len(rules)
    # a state file without recorded tags (written before them) falls back to reading
    path = root / ".reconciler" / "state.json"
    text = path.read_text()
    assert '"tags"' in text
    data = json.loads(text)
    _drop_recorded_tags(data)
    path.write_text(json.dumps(data))
    assert _plan("retail-adtech", root, "summaries").calls == warm.calls


def _drop_recorded_tags(data: Any) -> None:
    """Remove the tags recorded with every resource's last read, anywhere in a state document."""
    if isinstance(data, dict):
        if isinstance(data.get("read"), dict):
            data["read"].pop("tags", None)
        for value in data.values():
            _drop_recorded_tags(value)
    elif isinstance(data, list):
        for value in data:
            _drop_recorded_tags(value)


def test_refresh_full_and_a_fresh_cache_read_everything(
    applied: Callable[[str, Path], Path], tmp_path: Path
) -> None:
    root = applied("retail-adtech", tmp_path)
    full = _plan("retail-adtech", root, "full")
    assert _plan("retail-adtech", root, "full").calls == full.calls
    (root / ".reconciler" / "state.json").unlink()
    cold = _plan("retail-adtech", root)
    assert cold.calls == full.calls and cold.plan.is_empty
    with pytest.raises(PlanError, match="refresh"):
        _plan("retail-adtech", root, "sometimes")


def test_an_edit_that_moves_no_updatetime_is_found_by_apply_refresh_full_and_drift(
    applied: Callable[[str, Path], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What conditional reads cannot see (a change that moves no updateTime the List shows),
    apply, ``--refresh full`` and ``drift`` still read: the emulator's record is edited in place
    here, updateTime and all, as a change AWS made without moving it would look."""
    root = applied("retail-adtech", tmp_path)
    shutil.copytree(SPECS / "retail-adtech", root / "retail-adtech")
    known = _plan("retail-adtech", root).state
    table = known.get(parse("configured_table.retailer.purchases"))
    assert table is not None and table.id
    local = emulator.connect(root / ".reconciler" / "local.duckdb")
    try:
        record = local.store.get("configured_table", table.id)
        assert record is not None
        local.store.put("configured_table", table.id, {**record, "description": "unseen"})
        local.store.commit()
    finally:
        local.close()
    assert _plan("retail-adtech", root).plan.is_empty  # the summary did not move: reused
    monkeypatch.chdir(root)
    # a plan made from the reused response is refused by apply, which reads everything first
    assert run(capsys, "plan", "retail-adtech", "--out", "p.json")[0] == 0
    code, _, err = run(capsys, "apply", "p.json", "--auto-approve")
    assert code == 1 and "out of date" in err
    changes = {str(c.address) for c in _plan("retail-adtech", root, "full").plan.changes}
    assert changes == {"configured_table.retailer.purchases"}
    code, out, _ = run(capsys, "drift", "retail-adtech")
    assert code == 2 and "configured_table.retailer.purchases" in out
    code, out, _ = run(capsys, "plan", "retail-adtech", "--refresh", "full")
    assert code == 0 and "configured_table.retailer.purchases" in out
    code, _, err = run(capsys, "plan", "retail-adtech", "--refresh", "sometimes")
    assert code == 1 and "--refresh" in err and "changed" in err


def _rule_threshold(client: Client, r: ObservedResource, state: State) -> None:
    table = state.get(parse(str(r.address).replace("analysis_rule.", "configured_table.", 1)))
    assert table is not None
    rule = client.get_configured_table_analysis_rule(
        configuredTableIdentifier=table.id, analysisRuleType="CUSTOM"
    )
    policy = rule["analysisRule"]["policy"]
    policy["v1"]["custom"]["differentialPrivacy"] = None
    policy["v1"]["custom"].pop("differentialPrivacy")
    policy["v1"]["custom"]["disallowedOutputColumns"] = []
    client.update_configured_table_analysis_rule(
        configuredTableIdentifier=table.id, analysisRuleType="CUSTOM", analysisRulePolicy=policy
    )


def _association_rule(client: Client, r: ObservedResource, state: State) -> None:
    association = state.get(parse(str(r.address).replace("association_rule.", "association.", 1)))
    membership = (
        state.get(parse("membership." + ".".join(association.address.parts[:2]))) if association else None
    )
    assert association is not None and membership is not None
    client.update_configured_table_association_analysis_rule(
        membershipIdentifier=membership.id,
        configuredTableAssociationIdentifier=association.id,
        analysisRuleType="CUSTOM",
        analysisRulePolicy={
            "v1": {"custom": {"allowedResultReceivers": [], "allowedAdditionalAnalyses": []}}
        },
    )


def _membership_of(state: State, r: ObservedResource) -> str:
    """The id of the membership ``r`` lives in (its ``membershipIdentifier`` is a Ref to it)."""
    membership = state.get(r.attributes["membershipIdentifier"].address)
    assert membership is not None
    return str(membership.id)


def _budget(client: Client, r: ObservedResource, state: State) -> None:
    parameters = r.attributes["parameters"]
    [(key, values)] = parameters.items()
    client.update_privacy_budget_template(
        membershipIdentifier=_membership_of(state, r),
        privacyBudgetTemplateIdentifier=r.id,
        privacyBudgetType=r.attributes["privacyBudgetType"],
        parameters={key: {**values, "epsilon": values["epsilon"] + 1}},
    )


def _policy(client: Client, r: ObservedResource, state: State) -> None:
    model = state.get(
        parse(str(r.address).replace("configured_audience_model_policy.", "configured_audience_model.", 1))
    )
    assert model is not None
    policy = '{"Version": "2012-10-17", "Statement": []}'
    client.put_configured_audience_model_policy(
        configuredAudienceModelArn=model.arn, configuredAudienceModelPolicy=policy
    )


def _tag(client: Client, r: ObservedResource, state: State) -> None:
    client.tag_resource(resourceArn=r.arn, tags={"cost-centre": "by-hand"})


#: (example, address, service, edit, a field path the plan must show changed)
CASES: list[tuple[str, str, str, Edit, str]] = [
    (
        "retail-adtech",
        "collaboration.retail-ad-campaign-analysis",
        "cleanrooms",
        lambda c, r, s: c.update_collaboration(collaborationIdentifier=r.id, description="by hand"),
        "description",
    ),
    (  # a member's read is its List: removed behind the back, the plan shows it (and refuses to re-add it)
        "retail-adtech",
        "member.retail-ad-campaign-analysis.adtech",
        "cleanrooms",
        lambda c, r, s: c.delete_member(
            collaborationIdentifier=s.get(parse("collaboration.retail-ad-campaign-analysis")).id,
            accountId=r.account_id,
        ),
        "",
    ),
    (
        "retail-adtech",
        "membership.retail-ad-campaign-analysis.adtech",
        "cleanrooms",
        lambda c, r, s: c.update_membership(membershipIdentifier=r.id, queryLogStatus="DISABLED"),
        "queryLogStatus",
    ),
    (
        "retail-adtech",
        "configured_table.retailer.purchases",
        "cleanrooms",
        lambda c, r, s: c.update_configured_table(configuredTableIdentifier=r.id, description="by hand"),
        "description",
    ),
    ("retail-adtech", "configured_table.retailer.purchases", "cleanrooms", _tag, "tags"),
    (
        "retail-adtech",
        "analysis_rule.retailer.purchases",
        "cleanrooms",
        _rule_threshold,
        "analysisRulePolicy",
    ),
    (
        "retail-adtech",
        "association.retail-ad-campaign-analysis.retailer.purchases",
        "cleanrooms",
        lambda c, r, s: c.update_configured_table_association(
            membershipIdentifier=_membership_of(s, r),
            configuredTableAssociationIdentifier=r.id,
            description="x",
        ),
        "description",
    ),
    (
        "retail-adtech",
        "association.retail-ad-campaign-analysis.retailer.purchases",
        "cleanrooms",
        _tag,
        "tags",
    ),
    (
        "retail-adtech",
        "association_rule.retail-ad-campaign-analysis.retailer.purchases",
        "cleanrooms",
        _association_rule,
        "analysisRulePolicy",
    ),
    (
        "org-a-org-b",
        "analysis_template.org-a-org-b-insights.org_a.engagement-by-demographic",
        "cleanrooms",
        lambda c, r, s: c.update_analysis_template(
            membershipIdentifier=_membership_of(s, r), analysisTemplateIdentifier=r.id, description="by hand"
        ),
        "description",
    ),
    (
        "org-a-org-b",
        "analysis_template.org-a-org-b-insights.org_a.engagement-by-demographic",
        "cleanrooms",
        _tag,
        "tags",
    ),
    (
        "org-a-org-b",
        "privacy_budget_template.org-a-org-b-insights.org_b",
        "cleanrooms",
        _budget,
        "parameters",
    ),
    ("org-a-org-b", "privacy_budget_template.org-a-org-b-insights.org_b", "cleanrooms", _tag, "tags"),
    (
        "amc-multiparty",
        'id_namespace_association.amc-outdoor-co-insights.advertiser."advertiser first-party ids"',
        "cleanrooms",
        lambda c, r, s: c.update_id_namespace_association(
            membershipIdentifier=_membership_of(s, r), idNamespaceAssociationIdentifier=r.id, description="x"
        ),
        "description",
    ),
    (
        "amc-multiparty",
        "id_mapping_table.amc-outdoor-co-insights.amc_service.advertiser_to_amazon",
        "cleanrooms",
        lambda c, r, s: c.update_id_mapping_table(
            membershipIdentifier=_membership_of(s, r), idMappingTableIdentifier=r.id, description="x"
        ),
        "description",
    ),
    (
        "amc-multiparty",
        "id_mapping_table.amc-outdoor-co-insights.amc_service.advertiser_to_amazon",
        "cleanrooms",
        _tag,
        "tags",
    ),
    (
        "ml-lookalike",
        "configured_audience_model.publisher.readers-lookalike",
        "cleanroomsml",
        lambda c, r, s: c.update_configured_audience_model(configuredAudienceModelArn=r.arn, description="x"),
        "description",
    ),
    (
        "ml-lookalike",
        "configured_audience_model_association.lookalike-campaign.publisher.readers-lookalike",
        "cleanrooms",
        lambda c, r, s: c.update_configured_audience_model_association(
            membershipIdentifier=_membership_of(s, r),
            configuredAudienceModelAssociationIdentifier=r.id,
            description="x",
        ),
        "description",
    ),
    ("ml-lookalike", "training_dataset.publisher.publisher-interactions", "cleanroomsml", _tag, "tags"),
    ("ml-lookalike", "audience_model.publisher.readers", "cleanroomsml", _tag, "tags"),
    (
        "ml-lookalike",
        "configured_audience_model_policy.publisher.readers-lookalike",
        "cleanroomsml",
        _policy,
        "configuredAudienceModelPolicy",
    ),
    ("ml-lookalike", "configured_model_algorithm.advertiser.propensity", "cleanroomsml", _tag, "tags"),
    (
        "ml-lookalike",
        "configured_model_algorithm_association.lookalike-campaign.advertiser.propensity",
        "cleanroomsml",
        _tag,
        "tags",
    ),
    (
        "ml-lookalike",
        "ml_input_channel.lookalike-campaign.advertiser.valuable-customers",
        "cleanroomsml",
        _tag,
        "tags",
    ),
    (
        "ml-lookalike",
        "ml_configuration.lookalike-campaign.advertiser",
        "cleanroomsml",
        lambda c, r, s: c.put_ml_configuration(
            membershipIdentifier=_membership_of(s, r),
            defaultOutputLocation={
                **r.attributes["defaultOutputLocation"],
                "roleArn": "arn:aws:iam::111122223333:role/ByHand",
            },
        ),
        "defaultOutputLocation",
    ),
]


def _summaries_blind_to(kind: Kind, edit: Edit) -> bool:
    """What ``--refresh summaries`` cannot see: a tag of a type whose summary it trusts, and the
    List-less children of those (analysis rules, an audience model's policy), whose changes move
    no updateTime a List shows."""
    children = {Kind.ANALYSIS_RULE, Kind.ASSOCIATION_RULE, Kind.CONFIGURED_AUDIENCE_MODEL_POLICY}
    return (edit is _tag and kind in CONDITIONAL) or kind in children


@pytest.mark.parametrize(
    ("example", "address", "service", "edit", "path"), CASES, ids=[f"{c[1]}:{c[4]}" for c in CASES]
)
def test_a_change_behind_the_back_is_found_by_the_next_plan(
    applied: Callable[[str, Path], Path],
    tmp_path: Path,
    example: str,
    address: str,
    service: str,
    edit: Edit,
    path: str,
) -> None:
    root = applied(example, tmp_path)
    with workflow.open_workspace(SPECS / example, root=root) as ws:
        known = ws.cache.load(ws.backend.name, ws.name)
    resource = known.get(parse(address))
    assert resource is not None and resource.account_id
    local = emulator.connect(root / ".reconciler" / "local.duckdb")
    try:
        # a member is removed by the collaboration's creator, everything else by its owner
        creator = next(r for r in known if r.kind is Kind.COLLABORATION)
        account = creator.account_id if resource.kind is Kind.MEMBER else resource.account_id
        edit(local.client(service, account_id=account), resource, known)
    finally:
        local.close()
    # --refresh summaries trusts an unchanged summary: it misses exactly its documented blind spots
    trusted = {str(c.address) for c in _plan(example, root, "summaries").plan.changes}
    assert (address in trusted) is not _summaries_blind_to(resource.kind, edit), sorted(trusted)
    changes = {str(c.address): c for c in _plan(example, root).plan.changes}
    assert address in changes, sorted(changes)
    if path:
        assert any(d.path.startswith(path) for d in changes[address].field_diffs), changes[
            address
        ].field_diffs


def test_every_resource_type_has_a_change_made_behind_the_back() -> None:
    assert {parse(case[1]).kind for case in CASES} == set(REGISTRY)
