"""Helpers for the GitOps tests: a temporary Git repository holding copies of the example stacks."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from cli_helpers import ROOT, SPECS

EXAMPLES = ROOT / "examples" / "gitops"


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (no network, fixed identity) and return its stdout."""
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=ci@example.com", "-c", "user.name=CI", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def make_repo(root: Path, *stacks: str) -> Path:
    """A repository with ``specs/<stack>`` copied from the examples, committed once on ``main``."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    for name in stacks:
        shutil.copytree(SPECS / name, root / "specs" / name)
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    return root


def commit(repo: Path, message: str) -> str:
    """Commit everything in the work tree; return the commit id."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` by ``new`` in a file, insisting that it is there."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


NODE = re.compile(r'^  (\w+)(\[\[|\(\[|\[\(|\[/|\{\{|\[\\)"(.*)"(\]\]|\]\)|\)\]|/\]|\}\}|\\\])$')
EDGE = re.compile(r'^  (\w+) -->\|"([^"]*)"\| (\w+)$')
CLASS = re.compile(r"^  class ([\w,]+) (\w+)$")
