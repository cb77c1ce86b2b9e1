"""reconciler review between two commits of a stack: each kind of change a reviewer must see."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import SPECS, run
from gitops_helpers import CLASS, commit, edit, git, make_repo

from reconciler.gitops.review import review

Capsys = pytest.CaptureFixture[str]
CLASSIC = "specs/retail-adtech-classic"
CUSTOM = "specs/retail-adtech"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_repo(tmp_path / "repo", "retail-adtech", "retail-adtech-classic")
    monkeypatch.chdir(root)
    return root


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, out, err = run(capsys, "review", "--format", "json", *args)
    assert code in (0, 3), err
    return code, json.loads(out)


def _stack(doc: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(s for s in doc["stacks"] if s["name"] == name)


def test_lowered_threshold_weakens_with_values_and_fails_the_gate(repo: Path, capsys: Capsys) -> None:
    edit(repo / CUSTOM / "purchases.yaml", "minimumIdentityCount: 25", "minimumIdentityCount: 10")
    head = commit(repo, "lower the threshold")
    code, doc = _json(capsys, "--base", "HEAD~1", "--head", head, "--fail-on", "weakens", CUSTOM)
    assert code == 3
    assert doc["gate"] == {
        "fail_on": ["weakens"],
        "failed": True,
        "reasons": ["weakens: 1 change(s) weaken privacy"],
    }
    stack = _stack(doc, "retail-adtech")
    [finding] = stack["privacy"]
    assert finding["address"] == "analysis_rule.retailer.purchases"
    assert finding["impact"] == "weakens" and finding["rule"] == "aggregation-threshold"
    assert "25 -> 10" in finding["reason"]
    assert stack["counts"]["update"] == 1 and stack["irreversible"] == []
    [change] = stack["changes"]
    assert change["source"]["path"] == "specs/retail-adtech/purchases.yaml"  # not the temporary copy
    # without the gate the same review passes
    assert _json(capsys, "--base", "HEAD~1", "--head", head, CUSTOM)[0] == 0


def test_newly_exposed_column_weakens(repo: Path, capsys: Capsys) -> None:
    edit(
        repo / CUSTOM / "purchases.yaml",
        "disallowedOutputColumns: [hashed_email]",
        "disallowedOutputColumns: []",
    )
    _, doc = _json(capsys, "--base", "main", CUSTOM)  # head: the working tree
    reasons = [p["reason"] for p in _stack(doc, "retail-adtech")["privacy"]]
    assert any("hashed_email" in r and "disallowed output columns" in r for r in reasons), reasons
    assert _stack(doc, "retail-adtech")["privacy"][0]["impact"] == "weakens"


def test_new_join_operator_weakens(repo: Path, capsys: Capsys) -> None:
    edit(repo / CLASSIC / "ad_impressions.yaml", "    joinColumns: [hashed_email]\n",
         "    joinColumns: [hashed_email]\n    allowedJoinOperators: [AND, OR]\n")  # fmt: skip
    _, doc = _json(capsys, "--base", "main", CLASSIC)
    [finding] = _stack(doc, "retail-adtech-classic")["privacy"]
    assert finding["rule"] == "join-operators" and finding["impact"] == "weakens"
    assert finding["after"] == '["AND", "OR"]'


def test_new_member_is_an_add_member_change_that_weakens(repo: Path, capsys: Capsys) -> None:
    text = (repo / CUSTOM / "collaboration.yaml").read_text()
    text = text.replace(
        "  adtech:\n",
        '  agency:\n    accountId: "111122223333"\n    displayName: Agency\n'
        "    abilities: [CAN_RECEIVE_RESULTS]\n"
        "  adtech:\n",
    )
    (repo / CUSTOM / "collaboration.yaml").write_text(text)
    code, doc = _json(capsys, "--base", "main", "--fail-on", "irreversible", CUSTOM)
    stack = _stack(doc, "retail-adtech")
    assert code == 0  # adding a member is not irreversible
    [change] = [c for c in stack["changes"] if c["address"].startswith("member.")]
    assert change["action"] == "add-member" and change["impact"] == "weakens"
    assert any("agency joins" in p["reason"] for p in stack["privacy"])


def test_removed_member_is_irreversible(repo: Path, capsys: Capsys) -> None:
    (repo / CUSTOM / "ad_impressions.yaml").unlink()
    text = (repo / CUSTOM / "collaboration.yaml").read_text()
    start = text.index("  adtech:\n")
    end = text.index("tags:")
    (repo / CUSTOM / "collaboration.yaml").write_text(text[:start] + text[end:])
    head = commit(repo, "adtech leaves")
    code, doc = _json(capsys, "--base", "main~1", "--head", head, "--fail-on", "irreversible", CUSTOM)
    assert code == 3
    stack = _stack(doc, "retail-adtech")
    irreversible = {i["address"]: i for i in stack["irreversible"]}
    assert irreversible["member.retail-ad-campaign-analysis.adtech"]["action"] == "remove-member"
    assert irreversible["member.retail-ad-campaign-analysis.adtech"]["reason"]
    md_code, md, _ = run(capsys, "review", "--base", "main~1", "--head", head, "--format", "markdown", CUSTOM)
    assert md_code == 0
    assert "⛔ Irreversible" in md and "member.retail-ad-campaign-analysis.adtech" in md
    # the removed member and its table are still drawn, as deleted, in the diagram
    diagram = md.split("```mermaid\n")[1].split("```")[0]
    classes = {m.group(2): set(m.group(1).split(",")) for m in map(CLASS.match, diagram.splitlines()) if m}
    assert {"member_adtech", "table_adtech_ad_impressions"} <= classes["delete"]


def test_description_only_change_is_neutral(repo: Path, capsys: Capsys) -> None:
    edit(
        repo / CUSTOM / "purchases.yaml",
        "description: Store and online purchases",
        "description: All purchases",
    )
    code, doc = _json(capsys, "--base", "main", "--fail-on", "weakens,irreversible,invalid", CUSTOM)
    assert code == 0
    stack = _stack(doc, "retail-adtech")
    assert stack["privacy"] == []
    [change] = stack["changes"]
    assert change["impact"] == "neutral" and change["action"] == "update"
    assert [d["path"] for d in change["field_diffs"]] == ["description"]


def test_invalid_head_reports_positions_and_fails_the_invalid_gate(repo: Path, capsys: Capsys) -> None:
    edit(repo / CUSTOM / "purchases.yaml", "owner: retailer", "owner: retailr")
    head = commit(repo, "broken")
    code, doc = _json(capsys, "--base", "main~1", "--head", head, "--fail-on", "invalid", CUSTOM)
    assert code == 3
    stack = _stack(doc, "retail-adtech")
    assert stack["valid"] is False and stack["changes"] == []
    assert "changes not computed: head is invalid" in stack["notes"]
    [error] = [d for d in stack["diagnostics"] if d["severity"] == "error"]
    assert (error["path"], error["line"], error["column"]) == ("specs/retail-adtech/purchases.yaml", 4, 8)
    assert error["hint"] == 'did you mean "retailer"?'
    code, text, _ = run(capsys, "review", "--base", "main~1", "--head", head, CUSTOM)
    assert code == 0 and "specs/retail-adtech/purchases.yaml:4:8: error: unknown member" in text


def test_policy_in_the_stack_is_checked_at_head_and_gates(repo: Path, capsys: Capsys) -> None:
    (repo / CUSTOM / "policy.yaml").write_text("kind: PrivacyPolicy\nminimumAggregationThreshold: 20\n")
    commit(repo, "policy")
    edit(repo / CUSTOM / "purchases.yaml", "minimumIdentityCount: 25", "minimumIdentityCount: 10")
    code, doc = _json(capsys, "--base", "main", "--fail-on", "invalid", CUSTOM)
    assert code == 3
    [violation] = _stack(doc, "retail-adtech")["policy_violations"]
    assert violation["code"] == "policy-minimum-threshold"
    assert (violation["path"], violation["line"]) == ("specs/retail-adtech/purchases.yaml", 19)
    assert "policy.yaml:2:" in violation["detail"]


def test_policy_option_adds_an_organisation_policy(repo: Path, tmp_path: Path, capsys: Capsys) -> None:
    org = tmp_path / "org-policy.yaml"
    org.write_text("kind: PrivacyPolicy\nforbiddenColumns:\n  names: [store_region]\n")
    code, doc = _json(capsys, "--base", "main", "--policy", str(org), "--fail-on", "invalid", CUSTOM)
    assert code == 3 and doc["policies"] == [str(org)]
    [violation] = _stack(doc, "retail-adtech")["policy_violations"]
    assert violation["code"] == "policy-forbidden-column" and violation["line"] == 9


def test_policy_file_edited_in_the_change_is_noted(repo: Path, capsys: Capsys) -> None:
    (repo / CUSTOM / "policy.yaml").write_text("kind: PrivacyPolicy\nminimumAggregationThreshold: 20\n")
    _, doc = _json(capsys, "--base", "main", CUSTOM)
    assert any("policy.yaml" in n for n in _stack(doc, "retail-adtech")["notes"])


def test_every_stack_by_default_and_new_or_removed_stacks(repo: Path, capsys: Capsys) -> None:
    shutil.rmtree(repo / CLASSIC)
    shutil.copytree(repo / CUSTOM, repo / "specs" / "copy")
    commit(repo, "swap")
    _, doc = _json(capsys, "--base", "main~1", "--head", "main")
    names = {s["name"]: s for s in doc["stacks"]}
    assert set(names) == {"copy", "retail-adtech", "retail-adtech-classic"}
    assert names["retail-adtech"]["changes"] == []
    assert names["copy"]["in_base"] is False and names["copy"]["counts"]["create"] > 0
    assert names["retail-adtech-classic"]["in_head"] is False
    assert names["retail-adtech-classic"]["counts"]["delete"] > 0


def test_directories_as_sides(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    base = make_repo(tmp_path / "a", "retail-adtech")
    head = tmp_path / "b"
    shutil.copytree(base / "specs", head / "specs")
    edit(head / CUSTOM / "ad_impressions.yaml", "minimumIdentityCount: 25", "minimumIdentityCount: 50")
    monkeypatch.chdir(tmp_path)
    _, doc = _json(capsys, "--base", "a", "--head", "b", CUSTOM)
    [finding] = _stack(doc, "retail-adtech")["privacy"]
    assert finding["impact"] == "strengthens" and "25 -> 50" in finding["reason"]


def test_bad_revision_and_outside_a_repository_are_errors(
    repo: Path, tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "review", "--base", "no-such-branch", CUSTOM)
    assert code == 1 and "unknown revision 'no-such-branch'" in err and "Traceback" not in err
    code, _, err = run(capsys, "review", "--base", "main", "--fail-on", "sometimes", CUSTOM)
    assert code == 1 and "--fail-on" in err
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    code, _, err = run(capsys, "review", "--base", "main")
    assert code == 1 and "not inside a Git repository" in err


def test_markdown_stays_under_the_limit_with_a_note(repo: Path) -> None:
    edit(repo / CUSTOM / "purchases.yaml", "minimumIdentityCount: 25", "minimumIdentityCount: 10")
    shutil.rmtree(repo / CLASSIC)
    from reconciler.render.review import markdown

    result = review("main")
    full = markdown(result)
    assert "```mermaid" in full and "#### Privacy" in full
    short = markdown(result, limit=2500)
    assert len(short) <= 2500
    assert "#### Privacy" in short and "aggregation threshold on purchases lowered 25 -&gt; 10" in short
    assert "left out" in short and "```mermaid" not in short


def test_head_revision_leaves_the_work_tree_alone(repo: Path) -> None:
    edit(repo / CUSTOM / "purchases.yaml", "minimumIdentityCount: 25", "minimumIdentityCount: 10")
    result = review("main", "main", [CUSTOM])
    assert result.stacks[0].changes == ()  # main vs main, whatever the work tree holds
    assert git(repo, "status", "--porcelain")  # the edit is still there, untouched


def test_review_needs_no_sample_data_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    """Data files ignored by Git: both revisions lack them, and the review still compares the specs."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    shutil.copytree(SPECS / "retail-adtech", root / CUSTOM)
    (root / ".gitignore").write_text("data/\n")
    monkeypatch.chdir(root)
    commit(root, "base")
    edit(root / CUSTOM / "purchases.yaml", "minimumIdentityCount: 25", "minimumIdentityCount: 10")
    head = commit(root, "lower the threshold")
    shutil.rmtree(root / CUSTOM / "data")
    code, out, err = run(capsys, "review", "--base", "HEAD~1", "--head", head, "--fail-on", "weakens,invalid")
    assert code == 3, out + err  # the weakening gate, not "0 changes"
    assert "lowered 25 -> 10" in out


def test_a_base_revision_that_cannot_be_read_fails_the_review(repo: Path, capsys: Capsys) -> None:
    edit(repo / CUSTOM / "purchases.yaml", "owner: retailer", "owner: retailr")
    broken = commit(repo, "a broken spec merged")
    edit(repo / CUSTOM / "purchases.yaml", "owner: retailr", "owner: retailer")
    edit(repo / CUSTOM / "purchases.yaml", "minimumIdentityCount: 25", "minimumIdentityCount: 10")
    head = commit(repo, "fixed, and the threshold lowered")
    code, out, err = run(
        capsys, "review", "--base", broken, "--head", head, "--fail-on", "weakens,invalid", CUSTOM
    )
    assert code == 1, out + err
    assert "base revision of retail-adtech" in err and "cannot be read" in err
    assert "specs/retail-adtech/purchases.yaml:4:8" in err
    doc = review(broken, head, [CUSTOM], fail_on=["invalid"])
    assert any("cannot be read" in g for g in doc.gate_failures())
