"""The ``reconciler`` command line: parse options, call one library function, render, exit.

Each command lives in its own module in this package and exposes a click command named
``command``; ``COMMAND_MODULES`` names them, and a command's module is imported only when it
runs (``LazyGroup``). This package is the only place where an exception becomes text and an exit
code.

Exit codes (as Terraform's):

====  ==========================================================================
0     success; for ``plan --detailed-exitcode`` and ``drift``: no changes
1     error: invalid spec, refused query, failed apply, bad usage (click's 2 is remapped)
2     success with changes (``plan --detailed-exitcode``), drift found (``drift``)
3     ``review --fail-on``: the review found what the gate forbids (the review is still printed)
====  ==========================================================================
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence

import click

from reconciler.errors import ReconcilerError

__all__ = ["COMMAND_MODULES", "LazyGroup", "cli", "main", "run"]

#: Each command's name -> (the module of this package defining it as ``command``, its one-line help).
#: The line is what ``reconciler --help`` and completion show without importing the module (a test
#: checks it against the command's own docstring); the module is imported when the command runs.
COMMAND_MODULES: dict[str, tuple[str, str]] = {
    "validate": (
        "validate",
        "Validate stacks: YAML, shape, AWS limits and semantic checks, as path:line:col messages.",
    ),
    "schema": ("schema", "Generate the JSON Schema of the spec format (for editors) from the models."),
    "plan": (
        "plan",
        "Show what apply would change to make STACK's resources match its spec (save it with --out).",
    ),
    "show": ("show", "Print the plan saved in PLAN_FILE (by `reconciler plan --out`)."),
    "apply": ("apply", "Apply a saved plan (PLAN_FILE) or plan and apply STACK."),
    "drift": ("drift", "Report how STACK's live resources differ from its spec (exit 2 when they do)."),
    "destroy": (
        "destroy",
        "Delete every resource STACK manages (found by its tags); with --target, only those.",
    ),
    "demo": (
        "demo",
        "Plan and apply retail-adtech locally, re-plan (no changes), then run a protected query.",
    ),
    "query": ("query", "Run a protected query locally, enforcing the stack's analysis rules."),
    "review": (
        "review",
        "Review the spec changes between --base and --head: privacy first, then everything else.",
    ),
    "graph": (
        "graph",
        "Draw STACK: members and abilities, who pays, tables and rules, associations, templates.",
    ),
    "budget": ("budget", "Show the remaining privacy budgets of STACK's collaborations."),
    "state": ("state", "Inspect the state cache, rebuild it from tags, or break a stale lock."),
    "import": (
        "import_",
        "Manage the existing resource ID as ADDRESS of STACK (tags it; the spec must declare ADDRESS).",
    ),
    "serve": ("serve", "Serve the local backend over HTTP on 127.0.0.1 until Ctrl-C."),
    "ml": ("ml", "Run Clean Rooms ML jobs: audience generation and export; inspect ML input channels."),
}


def _everywhere(command: click.Command) -> None:
    """``--no-color`` on ``command`` and, for a group, on each of its subcommands."""
    from reconciler.cli import console

    console.add_no_color(command)
    for sub in getattr(command, "commands", {}).values():
        _everywhere(sub)


class LazyGroup(click.Group):
    """A group whose commands are imported when one runs (or is completed), not when the CLI starts.

    Starting a command used to import every command's module, and with them boto3, sqlglot,
    DuckDB, networkx and the pydantic models: over a second before ``--help`` printed. Here the
    help and the completion of command names come from ``COMMAND_MODULES``; only the chosen
    command's module is imported, and it imports what it uses.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_MODULES, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in COMMAND_MODULES:
            return None
        from reconciler.cli import complete

        module = importlib.import_module(f"reconciler.cli.{COMMAND_MODULES[cmd_name][0]}")
        command: click.Command = module.command
        _everywhere(command)
        complete.attach(command)
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands' table, from ``COMMAND_MODULES`` (importing none of them)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        # a stand-in command shortens each line exactly as the real one's would be
        rows = [(n, click.Command(n, help=_short_help(self, n)).get_short_help_str(limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(
        self, ctx: click.Context, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        """Command names (with their help) from ``COMMAND_MODULES``, then the group's options."""
        from click.shell_completion import CompletionItem

        found = [
            CompletionItem(n, help=_short_help(self, n))
            for n in self.list_commands(ctx)
            if n.startswith(incomplete)
        ]
        return found + click.Command.shell_complete(self, ctx, incomplete)


def _short_help(group: click.Group, name: str) -> str:
    if name in COMMAND_MODULES:
        return COMMAND_MODULES[name][1]
    return group.commands[name].get_short_help_str(limit=1000)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(package_name="cleanrooms-reconciler", prog_name="reconciler")
@click.option(
    "--chdir",
    "-C",
    type=click.Path(exists=True, file_okay=False),
    help="Run as if started in DIR (its workspace, its specs/).",
)
def cli(chdir: str | None) -> None:
    """Declarative reconciler for AWS Clean Rooms collaborations."""
    if chdir is not None:
        os.chdir(chdir)  # ``main`` puts the working directory back when the command ends


#: Printed on Ctrl-C (exit 130): work in flight may be partly done, and the next plan says what is.
INTERRUPTED = "Interrupted; if resources were being changed, `reconciler plan` shows what is left to do."

_everywhere(cli)  # the group's own --no-color; each command gets its own when it is loaded


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script calls ``sys.exit`` on it).

    Args:
        argv: arguments without the program name; ``None`` means ``sys.argv[1:]``.

    Returns:
        The process exit code (see the module docstring).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    cwd = os.getcwd()
    try:
        result = cli.main(args=args, prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        return 1
    except click.Abort as exc:  # click turns Ctrl-C and end of input at a prompt into Abort
        if isinstance(exc.__context__, KeyboardInterrupt):
            click.echo(INTERRUPTED, err=True)
            return 130
        if isinstance(exc.__context__, EOFError):
            click.echo(
                "error: no answer to the prompt: standard input is closed; nothing was changed.", err=True
            )
            click.echo("  hint: pass --auto-approve to run without asking", err=True)
            return 1
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return 1
    except ReconcilerError as exc:
        click.echo(exc.to_text(), err=True)
        return 1
    except KeyboardInterrupt:
        click.echo(INTERRUPTED, err=True)
        return 130
    except Exception:  # noqa: BLE001 - anything else is a bug in the tool, not in the user's input
        traceback.print_exc()
        click.echo("error: this is a bug in reconciler; please report it with the traceback above.", err=True)
        return 1
    finally:
        os.chdir(cwd)
    return int(result or 0)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
