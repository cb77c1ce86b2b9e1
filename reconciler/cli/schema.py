"""``reconciler schema``: regenerate ``schemas/spec.schema.json`` from the models, or check it."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import userfiles
from reconciler.spec.schema import SCHEMA_PATH, render_schema


@click.command("schema")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=SCHEMA_PATH,
    show_default=True,
    help="Where to write the JSON Schema.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the file is missing or out of date.")
def command(output: Path, check: bool) -> int:
    """Generate the JSON Schema of the spec format (for editors) from the models."""
    text = render_schema()
    exists = output.is_file()
    current = userfiles.read_text(output, what="the JSON Schema", option="--output") if exists else None
    if check:
        if current == text:
            click.echo(f"{output} is up to date.")
            return 0
        state = "is out of date" if exists else "does not exist"
        click.echo(f"error: {output} {state}; run `reconciler schema` and commit it.", err=True)
        return 1
    if current != text:
        userfiles.write_text(output, text, what="the JSON Schema", option="--output")
    click.echo(f"Wrote {output}.")
    return 0
