"""Review: what merging a spec change would do, from two revisions of the specs, with no backend.

``review(base, head, stacks)`` loads each stack at both sides, runs the planner's own diff and
privacy assessment between them (``diff.compare_specs``: base plays the observed state), and
collects what a reviewer must see: privacy findings, irreversible and blocked changes,
validation errors and policy violations at head. Nothing here calls AWS or needs credentials.

A side is a Git revision, read with ``git archive`` into a temporary directory (local object
store only: no fetch, no network), or a directory; ``head=None`` is the working tree. Paths in
messages are shown relative to the repository (``specs/retail-adtech/purchases.yaml:19:31``),
never as the temporary directory.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.errors import Diagnostic, ReconcilerError, Severity, SourceLocation
from reconciler.gitops import picture
from reconciler.planner import desired, diff
from reconciler.planner.model import Action, Change, Impact
from reconciler.spec import Stack, policy, validate_stack
from reconciler.spec.load import display_path

__all__ = ["FAIL_ON", "Review", "StackReview", "Side", "review"]

#: What ``--fail-on`` accepts: a gate name -> what it looks at.
FAIL_ON = ("weakens", "irreversible", "invalid")


class ReviewError(ReconcilerError):
    """A revision or directory to compare cannot be read (not a repository, unknown ref, ...)."""


@dataclass(frozen=True)
class Side:
    """One side of a review: where its files are and how messages name it.

    Args:
        label: what the reader sees (``main (1a2b3c4)``, ``working tree``, a directory).
        root: the directory that holds the files (a temporary copy for a Git revision).
        temporary: ``root`` is a temporary copy of a Git revision (messages show paths relative
            to the repository instead).
    """

    label: str
    root: Path
    temporary: bool = False

    def locate(self, location: SourceLocation | None) -> SourceLocation | None:
        """``location`` with a temporary copy's directory replaced by the repository-relative path."""
        if location is None or not self.temporary:
            return location
        try:
            relative = Path(location.path).resolve().relative_to(self.root.resolve())
        except ValueError:
            return location
        return replace(location, path=relative.as_posix())

    def show(self, path: str) -> str:
        """How messages name ``path`` (relative to this side's root)."""
        return Path(path).as_posix() if self.temporary else display_path(self.root / path)


@dataclass(frozen=True)
class StackReview:
    """The review of one stack.

    Args:
        name: the stack's name (its directory).
        path: its path relative to the repository (or as given).
        in_base / in_head: whether the stack exists at each side.
        changes: what applying head over base changes (NO_OP left out), sorted by Address.
        unchanged: resources equal at both sides.
        diagnostics: validation errors and warnings at head (policy violations excluded).
        violations: policy violations at head (``policy-*`` codes).
        base_diagnostics: errors at base (then changes are not computed).
        notes: other things a reviewer should know (policy file edited, stack added or removed).
        picture: the head stack's diagram, coloured by ``changes`` (None when head is invalid).
    """

    name: str
    path: str
    in_base: bool
    in_head: bool
    changes: tuple[Change, ...] = ()
    unchanged: int = 0
    diagnostics: tuple[Diagnostic, ...] = ()
    violations: tuple[Diagnostic, ...] = ()
    base_diagnostics: tuple[Diagnostic, ...] = ()
    notes: tuple[str, ...] = ()
    picture: picture.Picture | None = None

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """Validation errors at head (policy violations of severity error included)."""
        return tuple(d for d in (*self.diagnostics, *self.violations) if d.severity is Severity.ERROR)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def weakening(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.impact is Impact.WEAKENS)

    @property
    def irreversible(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.irreversible)

    @property
    def blocked(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.blocked)

    def ordered_changes(self) -> tuple[Change, ...]:
        """Blocked, then weakening, then irreversible, then the rest; each by Address."""

        def rank(c: Change) -> int:
            return 0 if c.blocked else 1 if c.impact is Impact.WEAKENS else 2 if c.irreversible else 3

        return tuple(sorted(self.changes, key=lambda c: (rank(c), c.address)))

    def counts(self) -> dict[str, int]:
        """Changes per action value, every action listed (0 included)."""
        return {a.value: sum(c.action is a for c in self.changes) for a in Action if a is not Action.NO_OP}


@dataclass(frozen=True)
class Review:
    """The review of every stack between two sides, and the gates it fails.

    Args:
        base / head: labels of the two sides.
        stacks: one StackReview per stack, by path.
        fail_on: the gates asked for (subset of ``FAIL_ON``).
    """

    base: str
    head: str
    stacks: tuple[StackReview, ...]
    fail_on: tuple[str, ...] = ()
    policies: tuple[str, ...] = field(default=())

    def gate_failures(self) -> list[str]:
        """Why the review fails its gates, one sentence per gate (empty: it passes)."""
        out = []
        if "weakens" in self.fail_on:
            n = sum(len(s.weakening) for s in self.stacks)
            if n:
                out.append(f"weakens: {n} change(s) weaken privacy")
        if "irreversible" in self.fail_on:
            n = sum(len(s.irreversible) for s in self.stacks)
            if n:
                out.append(f"irreversible: {n} change(s) cannot be undone")
        if "invalid" in self.fail_on:
            n = sum(len(s.errors) for s in self.stacks)
            if n:
                out.append(f"invalid: {n} validation error(s) or policy violation(s) at head")
            unreadable = self.unreadable
            if unreadable:
                names = ", ".join(s.name for s in unreadable)
                out.append(f"invalid: the base revision of {names} cannot be read, so nothing was compared")
        return out

    @property
    def unreadable(self) -> tuple[StackReview, ...]:
        """Stacks whose base could not be read as a valid spec: their changes were not computed."""
        return tuple(s for s in self.stacks if s.base_diagnostics)


# --------------------------------------------------------------------------- sides


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=env, check=False)
    except FileNotFoundError as exc:
        raise ReviewError("git is not installed", hint="install git, or compare two directories") from exc


def repository_root(start: Path) -> Path:
    """The top of the Git work tree holding ``start``.

    Raises:
        ReviewError: ``start`` is not inside a Git repository.
    """
    done = _git(start, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise ReviewError(
            f"{display_path(start)} is not inside a Git repository",
            hint="run review inside the repository, or give --base and --head as directories",
        )
    return Path(done.stdout.decode().strip())


def _commit(repo: Path, ref: str) -> str:
    done = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if done.returncode != 0:
        raise ReviewError(
            f"unknown revision {ref!r}",
            hint="give a branch, tag or commit of this repository (in CI, fetch the base branch first:"
            " actions/checkout with fetch-depth: 0)",
        )
    return done.stdout.decode().strip()


def _archive(repo: Path, commit: str, paths: Sequence[str], into: Path) -> None:
    """Extract ``paths`` (those that exist at ``commit``) of ``commit`` into ``into``."""
    present = [p for p in paths if _git(repo, "cat-file", "-e", f"{commit}:{p}").returncode == 0]
    if not present:
        return
    done = _git(repo, "archive", "--format=tar", commit, "--", *present)
    if done.returncode != 0:
        raise ReviewError(f"git archive failed: {done.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        tar.extractall(into, filter="data")


def _stack_dirs(repo: Path, commit: str) -> set[str]:
    """Stack directories (``specs/<name>``) at a commit."""
    done = _git(repo, "ls-tree", "-d", "--name-only", commit, "specs/")
    return {line for line in done.stdout.decode().splitlines() if line} if done.returncode == 0 else set()


def _worktree_stacks(root: Path) -> set[str]:
    specs = root / "specs"
    if not specs.is_dir():
        return set()
    return {f"specs/{d.name}" for d in specs.iterdir() if d.is_dir() and any(d.glob("*.y*ml"))}


@contextlib.contextmanager
def _sides(
    base: str, head: str | None, stacks: Sequence[str], cwd: Path
) -> Iterator[tuple[Side, Side, list[str]]]:
    """Materialise both sides; yields them and the stack paths (relative to each side's root)."""
    base_dir, head_dir = Path(base), Path(head) if head is not None else None
    if base_dir.is_dir() and (head_dir is None or head_dir.is_dir()):
        head_root = head_dir or cwd
        paths = list(stacks) or (
            ["."] if any(head_root.glob("*.y*ml")) else sorted(_worktree_stacks(head_root))
        )
        yield (
            Side(display_path(base_dir), base_dir),
            Side(display_path(head_root) if head_dir else "working tree", head_root),
            paths,
        )
        return
    repo = repository_root(cwd)
    rel = [_repo_path(repo, cwd, s) for s in stacks]
    with tempfile.TemporaryDirectory(prefix="reconciler-review-") as tmp:
        base_commit = _commit(repo, base)
        head_commit = _commit(repo, head) if head is not None else None
        if not rel:
            found = _stack_dirs(repo, base_commit) | (
                _stack_dirs(repo, head_commit) if head_commit else _worktree_stacks(repo)
            )
            rel = sorted(found)
        base_root = Path(tmp) / "base"
        base_root.mkdir()
        _archive(repo, base_commit, rel, base_root)
        if head_commit is not None:
            head_root = Path(tmp) / "head"
            head_root.mkdir()
            _archive(repo, head_commit, rel, head_root)
            head_side = Side(f"{head} ({head_commit[:7]})", head_root, temporary=True)
        else:
            head_side = Side("working tree", repo)
        yield Side(f"{base} ({base_commit[:7]})", base_root, temporary=True), head_side, rel


def _repo_path(repo: Path, cwd: Path, stack: str) -> str:
    target = (cwd / stack).resolve() if not Path(stack).is_absolute() else Path(stack).resolve()
    if not target.exists() and not Path(stack).is_absolute():
        return Path(stack).as_posix()  # removed at head: taken as repository-relative
    try:
        return target.relative_to(repo.resolve()).as_posix() or "."
    except ValueError:
        raise ReviewError(f"{stack} is outside the repository {repo}") from None


# --------------------------------------------------------------------------- one stack


def _relocated(diagnostics: Sequence[Diagnostic], side: Side) -> tuple[Diagnostic, ...]:
    return tuple(replace(d, location=side.locate(d.location)) for d in diagnostics)


def _load(side: Side, path: str) -> tuple[Stack | None, tuple[Diagnostic, ...]]:
    where = side.root / path
    missing = not where.exists() or (where.is_dir() and not any(where.glob("*.y*ml")))
    if missing:
        return None, ()
    stack, found = validate_stack(where, local_data=False)  # a revision may lack the sample data
    return stack, _relocated(found, side)


def _policy_text(side: Side, path: str) -> bytes | None:
    for name in policy.POLICY_FILES:
        file = side.root / path / name
        if file.is_file():
            return file.read_bytes()
    return None


def review_stack(base: Side, head: Side, path: str, extra_policies: Sequence[Path] = ()) -> StackReview:
    """Review one stack between two sides.

    Args:
        base: the side merged into.
        head: the proposed side.
        path: the stack's directory, relative to both roots.
        extra_policies: more policy files to check head against (``--policy``).

    Returns:
        The StackReview.
    """
    name = Path(path).resolve().name if path == "." else Path(path).name
    display = head.show(path)
    base_stack, base_found = _load(base, path)
    head_stack, head_found = _load(head, path)
    if base_stack is None and head_stack is None and not base_found and not head_found:
        raise ReviewError(
            f"no stack {path!r} in {base.label} or {head.label}",
            hint="give stack directories that hold YAML files (e.g. specs/retail-adtech), or none for all",
        )
    if head_stack is not None:
        head_found += _relocated(policy.check_files(head_stack, extra_policies), head)
    notes = []
    if base_stack is None and head_stack is not None:
        notes.append("new stack: everything in it is created")
    if head_stack is None and base_stack is not None:
        notes.append("stack removed: everything it manages would be deleted")
    if _policy_text(base, path) != _policy_text(head, path):
        notes.append("the stack's privacy policy file (policy.yaml) changes in this revision; review it too")
    diagnostics = tuple(d for d in head_found if not d.code.startswith("policy-"))
    violations = tuple(d for d in head_found if d.code.startswith("policy-") and d.code != "policy-file")
    diagnostics += tuple(d for d in head_found if d.code == "policy-file")
    base_errors = tuple(d for d in base_found if d.severity is Severity.ERROR)
    result = StackReview(
        name, display, base_stack is not None, head_stack is not None, diagnostics=diagnostics,
        violations=violations, base_diagnostics=base_errors, notes=tuple(notes),
    )  # fmt: skip
    head_errors = any(d.severity is Severity.ERROR and not d.code.startswith("policy-") for d in head_found)
    if head_errors or base_errors:
        why = "head is invalid" if head_errors else "base is invalid"
        return replace(result, notes=(*result.notes, f"changes not computed: {why}"))
    want = desired.resources(head_stack) if head_stack is not None else []
    have = desired.resources(base_stack) if base_stack is not None else []
    moves = desired.moves(head_stack) if head_stack is not None else ()
    changes = [replace(c, source=(head if c.after is not None else base).locate(c.source))
               for c in diff.compare_specs(have, want, moves)]  # fmt: skip
    moving = tuple(c for c in changes if c.action is not Action.NO_OP)
    drawn = picture.build(head_stack, moving) if head_stack is not None else None
    return replace(result, changes=moving, unchanged=len(changes) - len(moving), picture=drawn)


def review(
    base: str,
    head: str | None = None,
    stacks: Sequence[str] = (),
    *,
    policies: Sequence[Path] = (),
    fail_on: Sequence[str] = (),
    cwd: Path | None = None,
) -> Review:
    """Compare the specs of every stack at two revisions (or two directories).

    Args:
        base: a Git revision (branch, tag, commit) or a directory.
        head: a Git revision or directory; None means the working tree.
        stacks: stack directories (relative to the current directory; with directories as sides,
            relative to them). None given: every stack under ``specs/`` at either side (or the
            directory itself when it holds YAML files).
        policies: policy files applied on top of each stack's own ``policy.yaml``.
        fail_on: gates (``FAIL_ON``) whose failure the caller turns into an exit code.
        cwd: the working directory (default: the process's).

    Returns:
        The Review.

    Raises:
        ReviewError: not a repository, unknown revision, a stack outside the repository.
    """
    unknown = sorted(set(fail_on) - set(FAIL_ON))
    if unknown:
        raise ReviewError(f"unknown --fail-on value {unknown[0]!r}", hint=f"use {', '.join(FAIL_ON)}")
    where = cwd or Path.cwd()
    with _sides(base, head, stacks, where) as (base_side, head_side, paths):
        reviews = tuple(review_stack(base_side, head_side, p, policies) for p in paths)
    if not reviews:
        raise ReviewError("no stacks to review", hint="name the stack directories, e.g. specs/retail-adtech")
    return Review(
        base_side.label,
        head_side.label,
        reviews,
        tuple(dict.fromkeys(fail_on)),
        tuple(display_path(p) for p in policies),
    )
