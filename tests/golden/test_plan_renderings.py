"""Golden plans: each scenario folder holds a base and a head spec; the plan applies head over
what a backend reports after base was applied, and its three renderings must match the files.

A scenario folder is named as a sentence. Its ``base/`` stack is turned into observed resources
(as ``normalize_observed`` would give them, with deterministic ids); ``head/`` is the spec being
planned. Run ``python3 -m pytest tests/golden --update-golden`` to rewrite ``expected.*``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from planner.helpers import make_plan, observe

from reconciler.planner import desired
from reconciler.planner.model import Plan
from reconciler.render import json, markdown, text
from reconciler.spec import load_stack
from reconciler.workflow import accounts_of

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.name for p in (Path(__file__).parent / "plans").iterdir() if (p / "head").is_dir())
RENDERINGS = {"expected.txt": text.render, "expected.json": json.render, "expected.md": markdown.render}


def scenario_plan(name: str) -> Plan:
    folder = Path("tests/golden/plans") / name
    base = desired.resources(load_stack(folder / "base"))
    stack = load_stack(folder / "head")
    # the members of both revisions, so a removed member is still named
    accounts = {a.account_id: a.member for s in (load_stack(folder / "base"), stack) for a in accounts_of(s)}
    return make_plan(desired.resources(stack), observe(base), stack=name, accounts=accounts)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("filename", sorted(RENDERINGS))
def test_rendering_matches_golden_file(
    scenario: str, filename: str, update_golden: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # source locations in the output are relative to the repository
    output = RENDERINGS[filename](scenario_plan(scenario))
    golden = REPO / "tests/golden/plans" / scenario / filename
    if update_golden:
        golden.write_text(output, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing: run pytest tests/golden --update-golden"
    assert output == golden.read_text(encoding="utf-8")


def test_every_scenario_plans_something() -> None:
    assert len(SCENARIOS) >= 5
    for name in SCENARIOS:
        assert not scenario_plan(name).is_empty, name
