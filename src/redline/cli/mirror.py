"""Mirror commands: ``redline mirror ...`` (this instance mirrors a hub) and ``redline feed-key ...`` (this
instance is a hub: the keys its feed pages are signed with). docs/MIRRORS.md."""

from __future__ import annotations

from typing import Annotated

import typer

from redline.cli.service import CLI_ACTOR, _database, _fail
from redline.config import Settings

mirror_app = typer.Typer(help="Mirror a hub's signed feed into a local read-only bank.", no_args_is_help=True)
feed_key_app = typer.Typer(
    help="This hub's feed signing keys: show, rotate, finish a rotation.", no_args_is_help=True
)


def _hub_keys(url: str) -> list[str]:
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/v1/mirror/keys", timeout=30, trust_env=False)
        response.raise_for_status()
        keys = response.json()["keys"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        _fail(f"could not read the hub's keys from {url}: {exc}")
    return [str(k) for k in keys]


@mirror_app.command("add")
def mirror_add(
    url: Annotated[str, typer.Argument(help="The hub's base URL, e.g. https://hub.example.org.")],
    key: Annotated[str, typer.Option(help="The hub's feed API key issued to this instance.")],
    bank: Annotated[str, typer.Option(help="Local bank to fill (made if missing; it becomes read-only).")],
    name: Annotated[str | None, typer.Option(help="Name of this mirror (default: the bank's name).")] = None,
    from_banks: Annotated[
        str, typer.Option(help="Comma-separated hub banks to mirror (default: all the key may read).")
    ] = "",
    hub_key: Annotated[
        list[str] | None,
        typer.Option(
            help="The hub's verifier key to pin (repeatable); the hub shows it: redline feed-key show."
        ),
    ] = None,
) -> None:
    """Mirror the hub at URL into BANK. Without --hub-key, the keys the hub announces now are pinned and
    printed: compare them with what the hub's operator gave you."""
    from redline.bank.errors import BankError
    from redline.bank.secrets import ContactCipher
    from redline.mirror.sync import add_mirror

    settings = Settings.from_env()
    pinned = list(hub_key or [])
    announced = not pinned
    if announced:
        pinned = _hub_keys(url)
    try:
        with _database().write() as session:
            mirror = add_mirror(
                session,
                name=name or bank,
                url=url,
                key=key,
                bank=bank,
                pinned_keys=pinned,
                from_banks=[b.strip() for b in from_banks.split(",") if b.strip()],
                cipher=ContactCipher.from_settings(settings.contact_key, settings.data_dir),
                actor=CLI_ACTOR,
            )
    except BankError as exc:
        _fail(exc.detail)
    typer.echo(f"mirror {mirror.name}: {mirror.url} -> bank {bank}")
    for text in pinned:
        typer.echo(f"pinned hub key {text}")
    if announced:
        typer.echo("check these keys with the hub's operator (redline feed-key show on the hub)", err=True)


@mirror_app.command("list")
def mirror_list() -> None:
    """Every mirror: name, hub, bank, position, lag (changes, seconds), active entries, refused pages,
    last error."""
    from redline.mirror.sync import statuses

    with _database().read() as session:
        rows = statuses(session)
    for s in rows:
        lag_s = f"{s.lag_s:.1f}s" if s.lag_s is not None else "never"
        state = "on" if s.enabled else "paused"
        typer.echo(
            "\t".join(
                [
                    s.name,
                    s.url,
                    s.bank,
                    state,
                    f"position={s.position}",
                    f"lag={s.lag_changes} ({lag_s})",
                    f"entries={s.entries}",
                    f"refused={s.refused}",
                    s.last_error or "-",
                ]
            )
        )


@mirror_app.command("sync")
def mirror_sync(name: Annotated[str, typer.Argument(help="The mirror's name.")]) -> None:
    """Sync one mirror now (the server does it in the background; this is for a first load or a check)."""
    from redline.bank.errors import BankError
    from redline.bank.secrets import ContactCipher
    from redline.mirror.sync import sync

    settings = Settings.from_env()
    cipher = ContactCipher.from_settings(settings.contact_key, settings.data_dir)
    try:
        result = sync(_database(), name, cipher, page_size=settings.mirror_page_size)
    except BankError as exc:
        _fail(exc.detail)
    a = result.applied
    typer.echo(
        f"{result.pages} pages, {a.added} added, {a.changed} changed, position {result.position}, "
        f"{result.verdicts_sent} verdicts sent"
    )


def _set_enabled(name: str, enabled: bool) -> None:
    from redline.bank.errors import BankError
    from redline.mirror.sync import set_enabled

    try:
        with _database().write() as session:
            set_enabled(session, name, enabled, actor=CLI_ACTOR)
    except BankError as exc:
        _fail(exc.detail)
    typer.echo(f"{name} {'resumed' if enabled else 'paused'}")


@mirror_app.command("remove")
def mirror_remove(
    name: Annotated[str, typer.Argument(help="The mirror's name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop mirroring a hub for good: its entries stop matching (marked expired, kept), its key is deleted."""
    from redline.bank.errors import BankError
    from redline.mirror.sync import remove_mirror

    if not yes:
        typer.confirm(
            f"Remove mirror {name}? Its entries stop matching here at once (no withdrawal could reach them)",
            abort=True,
        )
    try:
        with _database().write() as session:
            expired = remove_mirror(session, name, actor=CLI_ACTOR)
    except BankError as exc:
        _fail(exc.detail)
    typer.echo(f"{name} removed; {expired} entries stopped matching")


@mirror_app.command("pause")
def mirror_pause(name: Annotated[str, typer.Argument(help="The mirror's name.")]) -> None:
    """Stop syncing (the bank keeps matching what it has)."""
    _set_enabled(name, False)


@mirror_app.command("resume")
def mirror_resume(name: Annotated[str, typer.Argument(help="The mirror's name.")]) -> None:
    """Sync again from where it stopped."""
    _set_enabled(name, True)


@feed_key_app.command("show")
def feed_key_show() -> None:
    """The verifier keys this hub signs feed pages with now (give them to mirror operators)."""
    from redline.mirror.signing import feed_signers, verifier_texts

    for text in verifier_texts(feed_signers(Settings.from_env().data_dir)):
        typer.echo(text)


@feed_key_app.command("rotate")
def feed_key_rotate() -> None:
    """Make the next key: pages are signed with both from now on, and mirrors pin the new one from the
    first page they read. Finish with `redline feed-key finish` once every mirror has synced."""
    from redline.mirror.signing import start_rotation

    typer.echo(start_rotation(Settings.from_env().data_dir).verifier().text())


@feed_key_app.command("finish")
def feed_key_finish() -> None:
    """Sign with the next key only; the old key is kept aside, no longer used."""
    from redline.mirror.signing import finish_rotation

    try:
        key = finish_rotation(Settings.from_env().data_dir)
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(key.verifier().text())


def register(app: typer.Typer) -> None:
    app.add_typer(mirror_app, name="mirror")
    app.add_typer(feed_key_app, name="feed-key")
