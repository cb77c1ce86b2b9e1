"""One workspace: `.reconciler/` is found as git finds `.git`, whatever directory a command runs in."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run
from e2e_helpers import copy_stack

STACK = "retail-adtech"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)


def test_a_stack_applied_from_the_project_root_is_up_to_date_from_inside_its_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stack = copy_stack(STACK, tmp_path)
    assert run(capsys, "apply", f"specs/{STACK}", "--auto-approve")[0] == 0
    monkeypatch.chdir(stack)
    code, out, err = run(capsys, "plan", "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes" in out
    assert f"Workspace: {tmp_path.resolve() / '.reconciler'}" in err
    assert not (stack / ".reconciler").exists()
    monkeypatch.chdir(stack.parent)  # specs/: a stack by name
    assert run(capsys, "plan", STACK, "--detailed-exitcode")[0] == 0


def test_the_workspace_is_made_at_the_project_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = copy_stack(STACK, tmp_path)
    monkeypatch.chdir(stack)
    assert run(capsys, "apply", "--auto-approve")[0] == 0
    assert (tmp_path / ".reconciler" / "local.duckdb").is_file()
    assert not (stack / ".reconciler").exists()


def test_chdir_runs_a_command_in_another_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    copy_stack(STACK, project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run(capsys, "--chdir", str(project), "apply", STACK, "--auto-approve")[0] == 0
    assert (project / ".reconciler").is_dir() and not (elsewhere / ".reconciler").exists()
    code, out, err = run(capsys, "-C", str(project), "plan", STACK, "--detailed-exitcode")
    assert code == 0, out + err
    assert Path.cwd() == elsewhere  # the working directory is put back


def test_which_stack_does_not_send_the_user_into_the_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_stack(STACK, tmp_path)
    copy_stack("org-a-org-b", tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "plan")
    assert code == 1 and "which stack?" in err
    assert "cd" not in err.split("hint:", 1)[1].replace("--chdir", "")
