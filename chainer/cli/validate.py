"""``chainer validate FILE...``: check storyboards without any network use."""
from __future__ import annotations

import click

from ..errors import ValidationError
from ..storyboard import load_storyboard


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--provider", "host", default=None,
              type=click.Choice(["ark", "volcengine", "byteplus", "fal", "replicate", "emulator"]),
              help="Also check that this host offers each shot's model, mode and resolution.")
def command(files: tuple[str, ...], host: str | None) -> None:
    """Check storyboard FILEs against the schema and each shot's model; print every problem
    as FILE:LINE:COL: path: message. Exit code 2 if any file has a problem."""
    problems: list = []
    for file in files:
        try:
            sb = load_storyboard(file, host=host)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        n, m = len(sb.shots), len(sb.sequences())
        click.echo(f"{file}: ok ({n} shot{'s' * (n != 1)}, {m} sequence{'s' * (m != 1)})")
    if problems:
        raise ValidationError(problems)
