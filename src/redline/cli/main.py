"""The ``redline`` command. Sub-commands are registered by the module that owns them."""

from __future__ import annotations

import typer

from redline import __version__
from redline.cli import evaluate, hashing, index, moderation, protect, scan, service

app = typer.Typer(
    name="redline",
    help="Redline: hash matching that stops non-consensual intimate images from spreading.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Redline command line."""


hashing.register(app)
service.register(app)
index.register(app)
moderation.register(app)
protect.register(app)
evaluate.register(app)
scan.register(app)
