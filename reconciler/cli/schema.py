"""``reconciler schema``: regenerate ``schemas/spec.schema.json`` from the models, or check it."""

from __future__ import annotations

from pathlib import Path

import click

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
    current = output.read_text(encoding="utf-8") if output.is_file() else None
    if check:
        if current == text:
            click.echo(f"{output} is up to date.")
            return 0
        click.echo(f"error: {output} is out of date; run `reconciler schema` and commit it.", err=True)
        return 1
    if current != text:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
    click.echo(f"Wrote {output}.")
    return 0
