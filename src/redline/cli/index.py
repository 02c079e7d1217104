"""Index commands: ``redline index snapshot`` (write one now, e.g. before a deploy), ``redline index list``.

They use the database and ``data_dir`` from the same ``REDLINE_*`` settings as ``redline serve``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from redline.config import Settings

if TYPE_CHECKING:
    from redline.match.shards import ShardSpec

index_app = typer.Typer(help="The match index: snapshots for fast start-up.", no_args_is_help=True)


ShardOption = Annotated[int | None, typer.Option("--shard", min=0, help="A shard's snapshots: its number.")]
OfOption = Annotated[int | None, typer.Option("--of", min=1, help="With --shard: how many shards there are.")]


def _shard(shard: int | None, of: int | None) -> ShardSpec | None:
    from redline.match.shards import ShardSpec

    if shard is None and of is None:
        return None
    try:
        if shard is None or of is None:
            raise ValueError("--shard and --of go together")
        return ShardSpec(shard, of)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@index_app.command("snapshot")
def snapshot(shard: ShardOption = None, of: OfOption = None) -> None:
    """Write a snapshot of the match index now, so the next start loads it instead of reading every hash.

    Builds the index the way a server process does (from the newest usable snapshot plus the change log, or
    from the database), writes it under ``data_dir/index`` (a shard's: ``data_dir/index/shard-K-of-N``) and
    removes older ones beyond the kept count. Safe while servers run: files are written under a temporary
    name and renamed."""
    from redline.bank.db import Database
    from redline.match.service import Matcher
    from redline.match.snapshots import SnapshotPolicy

    spec = _shard(shard, of)
    settings = Settings.from_env()
    policy = SnapshotPolicy.from_settings(settings)
    if policy is None:
        typer.echo("error: index snapshots are turned off (REDLINE_INDEX_SNAPSHOTS)", err=True)
        raise typer.Exit(1)
    db = Database(settings.effective_database_url)
    try:
        db.upgrade()
        matcher = Matcher(
            db,
            min_quality=settings.pdq_min_quality,
            poll_interval=settings.change_poll_interval,
            snapshots=policy,
            shard=spec,
        )
        matcher.load()
        if matcher.position == 0:
            typer.echo("the change log is empty: nothing to snapshot")
            return
        started = time.perf_counter()
        path = matcher.write_snapshot()
        typer.echo(
            f"wrote {path} ({matcher.size} entries, change-log position {matcher.position}) "
            f"in {time.perf_counter() - started:.1f} s"
        )
    finally:
        db.dispose()


@index_app.command("list")
def list_snapshots(shard: ShardOption = None, of: OfOption = None) -> None:
    """List the snapshots in ``data_dir/index`` (a shard's: ``data_dir/index/shard-K-of-N``): change-log
    position, size, age."""
    from redline.match.snapshots import SnapshotPolicy, SnapshotStore
    from redline.signals.types import SIGNAL_TYPES

    spec = _shard(shard, of)
    settings = Settings.from_env()
    directory = settings.data_dir / "index"
    store = SnapshotStore(directory / spec.label if spec else directory)
    # A snapshot is one file per indexed signal type at one position; the first type's file stands for it.
    names = [kind.name for kind in SIGNAL_TYPES.indexed()]
    positions = store.positions(names)
    if not positions:
        typer.echo(
            f"no snapshots in {store.directory} yet: the server writes them (REDLINE_INDEX_SNAPSHOT_*); "
            "`redline index snapshot` writes one now"
        )
    for position in positions:
        path = store.file(names[0], position)
        try:
            header = store.header(names[0], position)
        except (OSError, ValueError) as exc:
            typer.echo(f"{path}\tunreadable: {exc}")
            continue
        written = header.get("meta", {}).get("written_at", 0)
        age_h = (time.time() - written) / 3600 if written else float("nan")
        size_mib = path.stat().st_size / 2**20
        typer.echo(f"{path}\tposition {position}\t{size_mib:.1f} MiB\twritten {age_h:.1f} h ago")
    if SnapshotPolicy.from_settings(settings) is None:
        typer.echo("(snapshots are turned off: REDLINE_INDEX_SNAPSHOTS)")


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
