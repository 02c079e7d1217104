"""The ``redline`` command. Sub-commands are registered by the module that owns them."""

from __future__ import annotations

from typing import Any

import typer
from typer import core as typer_core

from redline import __version__
from redline.cli import (
    compare,
    evaluate,
    evidence,
    hashing,
    index,
    intake,
    interop,
    mirror,
    moderation,
    protect,
    removal,
    scan,
    service,
    shard,
    sharing,
)

_value_type_shown = typer_core.TyperOption.display_type_rich


def _no_type_for_flags(option: typer_core.TyperOption, ctx: Any) -> str | None:
    """A yes/no flag takes no value, so ``--help`` must not print ``--yes <bool>`` (as the pinned Typer does):
    a reader would type ``--yes true``. Flags show as ``--yes`` or ``--enable/--disable``."""
    return None if option.is_flag else _value_type_shown(option, ctx)


typer_core.TyperOption.display_type_rich = _no_type_for_flags  # type: ignore[method-assign,assignment]

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
compare.register(app)
service.register(app)
index.register(app)
moderation.register(app)
protect.register(app)
evaluate.register(app)
evidence.register(app)
interop.register(app)
mirror.register(app)
scan.register(app)
intake.register(app)
sharing.register(app)
removal.register(app)
shard.register(app)
