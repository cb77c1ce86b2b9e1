"""The example pipelines: every workflow and hook file parses, and every reconciler command line in
them runs against the example stacks on the local backend (a pull request, its merge, a drift check)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import SPECS, run
from gitops_helpers import EXAMPLES, commit, edit, git, make_repo

Capsys = pytest.CaptureFixture[str]
WORKFLOWS = ("cleanrooms-pr.yml", "cleanrooms-apply.yml", "cleanrooms-drift.yml")  # a PR, its merge, a cron
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
REDIRECT = re.compile(r"\s+(>>?)\s*(\S+)\s*$")


def load(name: str) -> Any:
    return yaml.safe_load((EXAMPLES / name).read_text())


def command_lines(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if line.strip().startswith("reconciler ")]


def test_every_example_file_parses_and_names_real_commands() -> None:
    files = sorted(p.name for p in (EXAMPLES / "workflows").iterdir())
    assert files == sorted(WORKFLOWS)
    for name in WORKFLOWS:
        doc = load(f"workflows/{name}")
        assert doc["name"] == name.removesuffix(".yml") and doc["jobs"]
        triggers = doc[True]  # YAML 1.1 reads the key `on` as true
        assert triggers
        lines = [
            line
            for job in doc["jobs"].values()
            for step in job["steps"]
            for line in command_lines(step.get("run", ""))
        ]
        assert lines, f"{name} runs no reconciler command"
    hooks = load(".pre-commit-hooks.yaml")
    assert {h["id"] for h in hooks} == {"cleanrooms-validate", "cleanrooms-review"}
    assert all(h["entry"].startswith("reconciler ") and h["pass_filenames"] is False for h in hooks)
    assert load("policy.yaml")["kind"] == "PrivacyPolicy"


class Pipeline:
    """Runs the reconciler lines of the examples as a CI runner would, with a fake GitHub context."""

    def __init__(self, repo: Path, capsys: Capsys, context: dict[str, str]) -> None:
        self.repo, self.capsys, self.context = repo, capsys, context
        self.ran: list[tuple[str, int]] = []

    def expand(self, text: str, env: dict[str, str]) -> str:
        def expression(m: re.Match[str]) -> str:
            assert m.group(1) in self.context, f"no test value for the expression {m.group(1)!r}"
            return self.context[m.group(1)]

        def variable(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            assert name in env, f"no value for ${name}"
            return env[name]

        return VARIABLE.sub(variable, EXPRESSION.sub(expression, text))

    def run_line(self, line: str, env: dict[str, str]) -> int:
        target = None
        if m := REDIRECT.search(line):
            line, target = line[: m.start()], (m.group(1), m.group(2))
        args = shlex.split(self.expand(line, env))
        assert args[0] == "reconciler"
        code, out, err = run(self.capsys, *args[1:])
        assert code in (0, 2, 3), f"{line}\n{err}"
        if target is not None:
            path = self.repo / shlex.split(self.expand(target[1], env))[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a" if target[0] == ">>" else "w") as handle:
                handle.write(out)
        self.ran.append((args[1], code))
        return code

    def workflow(self, name: str) -> None:
        doc = load(f"workflows/{name}")
        base_env = {k: self.expand(str(v), {}) for k, v in (doc.get("env") or {}).items()}
        base_env |= {
            "BACKEND": "local",
            "GITHUB_OUTPUT": "github-output",
            "GITHUB_STEP_SUMMARY": "summary.md",
        }
        for job in doc["jobs"].values():
            env = base_env | {k: self.expand(str(v), base_env) for k, v in (job.get("env") or {}).items()}
            for step in job["steps"]:
                step_env = env | {k: self.expand(str(v), env) for k, v in (step.get("env") or {}).items()}
                for line in command_lines(step.get("run", "")):
                    self.run_line(line, step_env)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository holding retail-adtech and the example files, committed once (the base)."""
    root = make_repo(tmp_path / "repo", "retail-adtech")
    shutil.copytree(EXAMPLES, root / "examples" / "gitops")
    commit(root, "pipelines")
    monkeypatch.chdir(root)
    monkeypatch.delenv("RECONCILER_POLICY", raising=False)
    return root


def test_pull_request_merge_and_drift_pipelines_run_locally(repo: Path, capsys: Capsys) -> None:
    base = git(repo, "rev-parse", "HEAD")
    edit(repo / "specs/retail-adtech/purchases.yaml", "description: Store and online", "description: All")
    commit(repo, "a pull request")
    context = {
        "github.event.pull_request.base.sha": base,
        "github.event.pull_request.number": "7",
        "github.token": "not-a-token",
        "github.run_id": "1",
        "env.PLAN_FILE": "plans/retail-adtech.json",
        "vars.CLEANROOMS_PLAN_ROLE": "",
        "vars.CLEANROOMS_APPLY_ROLE": "",
        "vars.CLEANROOMS_READ_ROLE": "",
        "steps.review.outputs.code": "0",
        "steps.drift.outputs.code": "0",
    }
    pipeline = Pipeline(repo, capsys, context)
    for name in WORKFLOWS:
        pipeline.workflow(name)
    assert pipeline.ran == [
        ("validate", 0), ("review", 0), ("review", 0), ("plan", 0), ("apply", 0), ("drift", 0),
    ]  # fmt: skip
    review = (repo / "review.md").read_text()
    assert review.startswith("## Clean Rooms review:") and "```mermaid" in review
    assert "Policies applied: `examples/gitops/policy.yaml`" in review
    assert (repo / "plans/retail-adtech.json").is_file() and "Plan" in (repo / "summary.md").read_text()
    assert '"drifted": false' in (repo / "drift.json").read_text()
    for hook in load(".pre-commit-hooks.yaml"):
        assert pipeline.run_line(hook["entry"], {}) == 0


def test_the_review_gate_of_the_pull_request_workflow_catches_a_policy_violation(
    repo: Path, capsys: Capsys
) -> None:
    base = git(repo, "rev-parse", "HEAD")
    edit(repo / "specs/retail-adtech/purchases.yaml", "minimumIdentityCount: 25", "minimumIdentityCount: 5")
    pipeline = Pipeline(repo, capsys, {"github.event.pull_request.base.sha": base})
    doc = load("workflows/cleanrooms-pr.yml")
    [line] = [line for line in command_lines(doc["jobs"]["review"]["steps"][4]["run"]) if "--fail-on" in line]
    env = {k: str(v) for k, v in doc["env"].items()} | {"BASE_SHA": base}
    assert pipeline.run_line(line, env) == 3
    assert (
        "policy-minimum-threshold" not in (repo / "review.md").read_text()
    )  # Markdown shows words, not codes
    assert "below the policy minimum 25" in (repo / "review.md").read_text()


def test_examples_policy_passes_the_example_stack(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_POLICY", str(EXAMPLES / "policy.yaml"))
    code, out, _ = run(capsys, "validate", str(SPECS / "retail-adtech"))
    assert code == 0, out
