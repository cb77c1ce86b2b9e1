"""Shell completion of stacks, member keys, addresses and plan files (click's completion).

``attach`` gives every command's parameters their completion by name (``BY_PARAMETER``), so a
command added later completes as the others do. Completion never fails loudly: a stack that
does not load completes to nothing. Set-up for bash, zsh and fish is in the README
(``_RECONCILER_COMPLETE=bash_source reconciler`` prints the script click generates).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import click
from click.shell_completion import CompletionItem

__all__ = ["BY_PARAMETER", "addresses", "attach", "members", "plan_files", "plans_or_stacks", "stacks"]

Complete = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def stacks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Stack names under ``./specs`` and the shipped examples, then directories for a path."""
    from reconciler.workflow.stacks import example_names

    names = {p.name for p in Path("specs").iterdir() if p.is_dir()} if Path("specs").is_dir() else set()
    names |= set(example_names())
    found = [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]
    return found + [CompletionItem(incomplete, type="dir")]


def plan_files(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``*.json`` files in this directory and ``plans/``, then any file for a path."""
    seen = sorted({str(p) for d in (Path("."), Path("plans")) if d.is_dir() for p in d.glob("*.json")})
    found = [CompletionItem(p) for p in seen if p.startswith(incomplete)]
    return found + [CompletionItem(incomplete, type="file")]


def plans_or_stacks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``apply``'s target: a plan file or a stack."""
    files = [c for c in plan_files(ctx, param, incomplete) if c.type == "plain"]
    return files + stacks(ctx, param, incomplete)


def _stack_of(ctx: click.Context) -> Path:
    from reconciler.workflow.stacks import find_stack

    given = ctx.params.get("stack") or ctx.params.get("target")
    if given is None:  # before an option awaiting its value, click leaves the positionals unparsed
        given = next((a for a in ctx.args if not a.startswith("-")), None)
    if isinstance(given, str) and given.endswith(".json") and Path(given).is_file():
        from reconciler.planner import planfile

        return find_stack(planfile.read(given).spec_path or None)
    return find_stack(given if isinstance(given, str) else None)


def members(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The member keys of the stack named earlier on the line (or found as commands find it)."""
    from reconciler.spec import load_stack
    from reconciler.workflow.stacks import accounts_of

    with contextlib.suppress(Exception):  # completion must never print a traceback into the shell
        keys = sorted({a.member for a in accounts_of(load_stack(_stack_of(ctx)))})
        return [CompletionItem(k) for k in keys if k.startswith(incomplete)]
    return []


def addresses(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The addresses the stack's spec declares."""
    from reconciler.planner import desired
    from reconciler.spec import load_stack

    with contextlib.suppress(Exception):
        found = sorted(str(r.address) for r in desired.resources(load_stack(_stack_of(ctx))))
        return [CompletionItem(a) for a in found if a.startswith(incomplete)]
    return []


#: Which completion a parameter gets, by its name (``apply``'s ``target`` is a plan file or a stack).
BY_PARAMETER: dict[str, Complete] = {
    "stack": stacks,
    "stacks": stacks,
    "stack_path": stacks,
    "target": plans_or_stacks,
    "plan_file": plan_files,
    "plan": plan_files,
    "as_member": members,
    "member": members,
    "address": addresses,
    "addresses": addresses,
    "targets": addresses,
}


def attach(command: click.Command) -> None:
    """Set the completion of ``command``'s parameters (and its subcommands') from ``BY_PARAMETER``."""
    for param in command.params:
        chosen = BY_PARAMETER.get(param.name or "")
        # click keeps a parameter's own completion here; set only where none was given
        if chosen is not None and param._custom_shell_complete is None:
            param._custom_shell_complete = chosen
    for sub in getattr(command, "commands", {}).values():
        attach(sub)
