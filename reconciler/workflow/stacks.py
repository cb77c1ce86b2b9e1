"""Stacks on disk: finding one from what the user typed, its name, and its member accounts.

A stack is a directory of YAML documents (or one YAML file). ``find_stack`` accepts a path, a
name under ``./specs``, or the name of an example stack. The example stacks (their YAML, sample
data and SQL) ship inside the package as package data, in ``EXAMPLES``, so ``reconciler demo``
and ``reconciler plan retail-adtech`` work from any directory and from any install.

>>> "retail-adtech" in example_names()
True
>>> (EXAMPLES / "retail-adtech" / "collaboration.yaml").is_file()
True
"""

from __future__ import annotations

import os
from pathlib import Path

import reconciler
from reconciler.errors import PlanError
from reconciler.execution.clients import Account
from reconciler.spec import Stack

__all__ = [
    "EXAMPLES",
    "WORKSPACE_DIR",
    "accounts_of",
    "example_names",
    "find_stack",
    "stack_name",
    "workspace_root",
]

#: The example stacks, inside the installed package (``reconciler/examples/<stack>/``).
EXAMPLES = Path(reconciler.__file__).resolve().parent / "examples"
#: The workspace directory: state cache, locks, the local backend, its results.
WORKSPACE_DIR = ".reconciler"


def workspace_root(start: Path | None = None) -> Path:
    """The directory whose ``.reconciler/`` this command uses, found as git finds ``.git``.

    From ``start`` (the working directory) upwards, the nearest directory that holds a
    ``.reconciler/`` directory, or else the project root: the nearest that holds ``specs/``.
    Neither: ``start`` itself. So ``cd specs/my-stack && reconciler plan`` uses the state,
    locks and local backend of the project, not a new, empty one.

    Args:
        start: where to look from (default: the working directory).

    Returns:
        The directory (``.reconciler/`` may not exist yet), relative to the working directory
        (``.``, ``../..``) so that messages name files as a user typing there would.
    """
    here = (start or Path.cwd()).resolve()
    found = next(
        (d for d in (here, *here.parents) if (d / WORKSPACE_DIR).is_dir() or (d / "specs").is_dir()), here
    )
    return Path(os.path.relpath(found))


def _stacks_in(directory: Path) -> list[Path]:
    """The stack directories in ``directory`` (those holding YAML files), by name."""
    return sorted(p for p in directory.iterdir() if p.is_dir() and any(p.glob("*.y*ml")))


def example_names() -> list[str]:
    """The example stacks' names, sorted (``retail-adtech``, ...)."""
    return [p.name for p in _stacks_in(EXAMPLES)]


def find_stack(stack: str | os.PathLike[str] | None) -> Path:
    """Locate a stack directory: a path, a name under ``./specs``, or one of the example stacks.

    Args:
        stack: what the user typed (None: the current directory if it holds YAML, else the only
            stack under ``./specs``).

    Returns:
        The stack's path.

    Raises:
        PlanError: nothing matches; the message lists the stacks that exist.
    """
    specs = workspace_root() / "specs"
    if stack is None:
        if any(Path(".").glob("*.yaml")):
            return Path(".")
        candidates = _stacks_in(specs) if specs.is_dir() else []
        if len(candidates) == 1:
            return candidates[0]
        if not specs.is_dir():
            raise PlanError(
                "which stack? there is no specs/ directory here, and no YAML in this directory",
                hint=_pass_a_stack(),
            )
        names = ", ".join(p.name for p in candidates)
        raise PlanError(
            f"which stack? ./specs holds {len(candidates) or 'no'} stack(s){': ' + names if names else ''}",
            hint=_pass_a_stack(),
        )
    for candidate in (Path(stack), Path("specs") / stack, specs / stack, EXAMPLES / str(stack)):
        if candidate.exists():
            return candidate
    where = "under ./specs or" if specs.is_dir() else "under ./specs (there is no specs/ directory here) or"
    message = f"no stack {str(stack)!r}: not a path, and not {where} the examples"
    raise PlanError(message, hint=_pass_a_stack())


def _pass_a_stack() -> str:
    """How to name a stack on the command line, with the stacks there are."""
    own = workspace_root() / "specs"
    mine = [p.name for p in _stacks_in(own)] if own.is_dir() else []
    known = sorted({*mine, *example_names()})
    return (
        "give the stack's directory as STACK (or its name), e.g. `reconciler plan path/to/my-stack`"
        f" (`--chdir DIR` runs in the project DIR); known stacks: {', '.join(known) or 'none'}"
    )


def stack_name(stack: Stack) -> str:
    """A stack's name: its directory's name (or the YAML file's stem)."""
    root = stack.root.resolve()
    return root.stem if root.is_file() else root.name


def accounts_of(stack: Stack) -> list[Account]:
    """Every member account of a stack in every region it works in, with its credentials.

    One Account per (account id, region): an account that is a member of collaborations in two
    regions is acted as in each (the first declaration's key and credentials win).
    """
    out: dict[tuple[str, str], Account] = {}
    for collab in stack.collaborations:
        for key, member in collab.members.items():
            creds = member.credentials
            out.setdefault(
                (member.accountId, collab.region),
                Account(
                    key,
                    member.accountId,
                    collab.region,
                    creds.profile if creds else None,
                    creds.roleArn if creds else None,
                ),
            )
    return list(out.values())
