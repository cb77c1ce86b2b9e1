"""The ``reconciler`` command line: parse options, call one library function, render, exit.

Each command lives in its own module in this package and exposes a click command named
``command``; ``COMMAND_MODULES`` lists them. This package is the only place where an exception
becomes text and an exit code.

Exit codes (as Terraform's):

====  ==========================================================================
0     success; for ``plan --detailed-exitcode`` and ``drift``: no changes
1     error: invalid spec, refused query, failed apply, bad usage (click's 2 is remapped)
2     success with changes (``plan --detailed-exitcode``), drift found (``drift``)
3     ``review --fail-on``: the review found what the gate forbids (the review is still printed)
====  ==========================================================================
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

import click

from reconciler.cli import (
    apply,
    budget,
    complete,
    console,
    demo,
    destroy,
    drift,
    graph,
    import_,
    ml,
    plan,
    query,
    review,
    schema,
    serve,
    show,
    state,
    validate,
)
from reconciler.errors import ReconcilerError

__all__ = ["COMMAND_MODULES", "cli", "main", "run"]

#: Modules of this package that each define one click command named ``command``.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    *(validate, schema, plan, show, apply, drift, destroy, demo, query),
    *(review, graph, budget),
    *(state, import_),
    serve,
    ml,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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

for _module in COMMAND_MODULES:
    cli.add_command(_module.command)


def _everywhere(command: click.Command) -> None:
    """``--no-color`` on ``command`` and, for a group, on each of its subcommands."""
    console.add_no_color(command)
    for sub in getattr(command, "commands", {}).values():
        _everywhere(sub)


_everywhere(cli)
complete.attach(cli)


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
