"""``chainer schema``: print the storyboard JSON Schema (for editor validation/autocomplete)."""
from __future__ import annotations

import json

import click

from ..storyboard import storyboard_json_schema


@click.command("schema")
def command() -> None:
    """Print the JSON Schema of a storyboard. Point your editor at it, e.g. with
    `# yaml-language-server: $schema=storyboard.schema.json` at the top of the YAML file."""
    click.echo(json.dumps(storyboard_json_schema(), indent=2, ensure_ascii=False))
