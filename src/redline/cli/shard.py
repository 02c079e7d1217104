"""``redline shard serve``: one shard of a match index split across processes (docs/SHARDS.md).

It uses the database and ``data_dir`` from the same ``REDLINE_*`` settings as ``redline serve`` (snapshots in
``data_dir/index/shard-K-of-N``), and needs ``REDLINE_SHARD_SECRET``. It only reads the database: run
``redline db upgrade`` (or ``redline serve``) first.
"""

from __future__ import annotations

from typing import Annotated

import typer

from redline.config import Settings

shard_app = typer.Typer(
    help="Shards of the match index, for banks too large for one process.", no_args_is_help=True
)


@shard_app.command("serve")
def serve(
    shard: Annotated[int, typer.Option("--shard", min=0, help="This shard's number, from 0.")],
    of: Annotated[int, typer.Option("--of", min=1, help="How many shards the index is split into.")],
    host: Annotated[str, typer.Option(help="Address to listen on (API processes only need to reach it).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 9100,
) -> None:
    """Hold and serve shard K of N of the match index: the indexed entries whose id % N == K, loaded from
    a snapshot or the database and kept current from the change log. API processes search it when
    REDLINE_SHARDS lists it (in shard order)."""
    import uvicorn

    from redline.api.shard import create_shard_app
    from redline.api.transport import HTTP_PROTOCOL
    from redline.cli.service import LOG_CONFIG
    from redline.match.shards import ShardSpec

    settings = Settings.from_env()
    try:
        spec = ShardSpec(shard, of)
        app = create_shard_app(settings, spec)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    uvicorn.run(
        app,
        host=host,
        port=port,
        server_header=False,
        date_header=False,
        http=HTTP_PROTOCOL,
        access_log=False,
        log_config=LOG_CONFIG,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(shard_app, name="shard")
