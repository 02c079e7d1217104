"""Start-up from index snapshots: catch-up from the change log, refusal of bad snapshots, one writer."""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import Case, Change
from redline.bank.secrets import ContactCipher
from redline.index import codes_from_hex
from redline.match.service import Matcher, Query
from redline.match.snapshots import SnapshotPolicy, SnapshotStore, WriterLock
from tests.support import ATTESTATION, wait_until
from tests.support.server import Server

MIN_QUALITY = 50


def pdq() -> str:
    return secrets.token_hex(32)


def matcher(db: Database, directory: Path, **policy: int) -> Matcher:
    return Matcher(
        db,
        min_quality=MIN_QUALITY,
        poll_interval=0.05,
        snapshots=SnapshotPolicy(directory=directory, **policy),  # type: ignore[arg-type]
    )


def in_index(m: Matcher, value: str) -> bool:
    """Whether the in-memory index itself holds ``value`` (``match`` would re-check the database anyway)."""
    hits = m._indexes["pdq"].search(codes_from_hex([value]), 0)[0]
    return len(hits) > 0


def submit(db: Database, cipher: ContactCipher, *values: str) -> str:
    hashes = [service.normalize_hash("pdq", v, 90) for v in values]
    with db.write() as session:
        case = service.submit_case(
            session, bank_name="survivors", hashes=hashes, attestation=ATTESTATION, cipher=cipher
        )
    return case.case_id


def withdraw(db: Database, case_id: str) -> None:
    with db.write() as session:
        case = session.get(Case, case_id)
        assert case is not None
        service.withdraw_case(session, case)


def test_restart_from_snapshot_applies_later_withdrawals(
    db: Database, cipher: ContactCipher, tmp_path: Path
) -> None:
    kept, gone, later = pdq(), pdq(), pdq()
    submit(db, cipher, kept)
    withdrawn_case = submit(db, cipher, gone)
    first = matcher(db, tmp_path / "index")
    first.load()
    assert first.loaded_from == "database" and first.size == 2
    first._indexes["pdq"].compact()  # type: ignore[attr-defined]  # into the main part, which gets mapped
    first._indexes["pdq_region"].tuned_for = 31  # type: ignore[attr-defined]  # as an older version wrote
    first.write_snapshot()

    withdraw(db, withdrawn_case)  # after the snapshot: must be applied before the next start reports ready
    submit(db, cipher, later)

    second = matcher(db, tmp_path / "index")
    second.load()
    assert second.loaded_from == "snapshot" and second.caught_up >= 2
    assert in_index(second, kept) and in_index(second, later) and not in_index(second, gone)
    assert second.size == 2
    found = second.match([Query("pdq", kept), Query("pdq", gone), Query("pdq", later)])
    assert [len(m) for m in found] == [1, 0, 1]
    codes = second._indexes["pdq"]._state.main.codes  # type: ignore[attr-defined]
    assert isinstance(codes, np.memmap) and not codes.flags.writeable  # mapped, never written to
    # Each type's index is split for its own default threshold after the next rebuild, even when the
    # snapshot recorded another split (older versions recorded none, read as 31).
    tuned = [second._indexes[t].tuned_for for t in ("pdq", "pdq_region")]  # type: ignore[attr-defined]
    assert tuned == [31, 45]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'bank.db'}")
    database.upgrade()
    yield database
    database.dispose()


def _snapshot_of(db: Database, directory: Path) -> Path:
    m = matcher(db, directory)
    m.load()
    return m.write_snapshot()


def test_bad_snapshots_are_ignored_with_a_warning(
    sqlite_db: Database, cipher: ContactCipher, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    values = [pdq() for _ in range(50)]
    submit(sqlite_db, cipher, *values[:25])
    directory = tmp_path / "index"
    older = _snapshot_of(sqlite_db, directory)
    submit(sqlite_db, cipher, *values[25:])
    newest = _snapshot_of(sqlite_db, directory)
    assert older != newest

    def start() -> Matcher:
        caplog.clear()
        m = matcher(sqlite_db, directory)
        with caplog.at_level(logging.WARNING, logger="redline.match.service"):
            m.load()
        assert m.size == 50 and all(in_index(m, v) for v in values)
        return m

    good = newest.read_bytes()
    # A flipped byte in the tables: refused by its checksum; the older snapshot is used and caught up.
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF
    newest.write_bytes(bytes(damaged))
    m = start()
    assert m.loaded_from == "snapshot" and m.caught_up > 0 and "corrupt" in caplog.text

    # Both unusable (truncated, not a snapshot at all): rebuilt from the database.
    newest.write_bytes(good[: len(good) - 100])
    older.write_bytes(b"garbage")
    m = start()
    assert m.loaded_from == "database" and "truncated" in caplog.text and "not a Redline" in caplog.text

    # A sound snapshot of another database is refused.
    newest.write_bytes(good)
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    other.upgrade()
    submit(other, cipher, *values)  # even with the same hashes
    m = matcher(other, directory)
    with caplog.at_level(logging.WARNING, logger="redline.match.service"):
        m.load()
    assert m.loaded_from == "database" and "another database" in caplog.text
    other.dispose()

    # A changed quality floor changes what the index holds: refused too.
    caplog.clear()
    stricter = Matcher(
        sqlite_db, min_quality=95, poll_interval=0.05, snapshots=SnapshotPolicy(directory=directory)
    )
    with caplog.at_level(logging.WARNING, logger="redline.match.service"):
        stricter.load()
    assert stricter.loaded_from == "database" and stricter.size == 0 and "pdq_min_quality" in caplog.text

    # And the sound one is used.
    assert start().loaded_from == "snapshot"


def test_one_writer_periodic_and_shutdown_snapshots(
    sqlite_db: Database, cipher: ContactCipher, tmp_path: Path
) -> None:
    directory = tmp_path / "index"
    lock_a, lock_b = WriterLock(directory / "writer.lock"), WriterLock(directory / "writer.lock")
    assert lock_a.try_acquire() and not lock_b.try_acquire()
    lock_a.release()
    assert lock_b.try_acquire()
    lock_b.release()

    writer = matcher(sqlite_db, directory, every_changes=3, keep=2)
    other = matcher(sqlite_db, directory, every_changes=3, keep=2)
    writer.start()
    assert writer.ready.wait(10)
    other.start()
    assert other.ready.wait(10)
    store = SnapshotStore(directory)
    written = set()
    for _ in range(4):
        submit(sqlite_db, cipher, pdq(), pdq(), pdq())  # 3 changes: a snapshot is due each time
        with sqlite_db.read() as session:
            last = session.scalar(select(func.max(Change.seq)))
        wait_until(lambda: last in store.positions(["pdq"]), timeout=5)  # noqa: B023
        written.add(last)
    assert len(written) == 4
    wait_until(lambda: store.positions(["pdq"]) == sorted(written)[-2:][::-1])  # older ones pruned
    submit(sqlite_db, cipher, pdq())
    wait_until(lambda: writer.position == other.position and writer.size == 13)
    other.stop()
    writer.stop()  # clean shutdown: the holder of the lock writes what it has
    assert store.positions(["pdq"])[0] == writer.position
    assert not list(directory.glob("*.tmp")) and not list(directory.glob(".*.tmp"))


@pytest.mark.slow
def test_real_server_restart_uses_snapshot_and_later_withdrawal(
    sqlite_db: Database, cipher: ContactCipher, tmp_path: Path
) -> None:
    url = sqlite_db.url
    (tmp_path / "data").mkdir()
    kept = submit(sqlite_db, cipher, pdq())
    gone = submit(sqlite_db, cipher, pdq(), pdq())
    server = Server(url, tmp_path / "data")
    try:
        assert httpx.get(server.url + "/readyz").json()["entries"] == 3
    finally:
        server.stop()  # SIGTERM: the process writes a snapshot as it stops
    assert SnapshotStore(tmp_path / "data" / "index").positions(["pdq"])
    withdraw(sqlite_db, gone)  # while no server runs
    server = Server(url, tmp_path / "data")
    try:
        assert httpx.get(server.url + "/readyz").json()["entries"] == 1
        assert 'redline_index_load_seconds{source="snapshot"}' in httpx.get(server.url + "/metrics").text
    finally:
        server.stop()
    assert kept
    shutil.rmtree(tmp_path / "data" / "index")  # a snapshot is only a cache: deleting it is safe
    server = Server(url, tmp_path / "data")
    try:
        assert httpx.get(server.url + "/readyz").json()["entries"] == 1
    finally:
        server.stop()


def test_cli_writes_and_lists_snapshots(
    sqlite_db: Database, cipher: ContactCipher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from redline.cli.main import app

    submit(sqlite_db, cipher, pdq(), pdq())
    monkeypatch.setenv("REDLINE_DATABASE_URL", sqlite_db.url)
    monkeypatch.setenv("REDLINE_DATA_DIR", str(tmp_path / "data"))
    written = CliRunner().invoke(app, ["index", "snapshot"])
    assert written.exit_code == 0, written.output
    assert "2 entries" in written.output
    assert SnapshotStore(tmp_path / "data" / "index").positions(["pdq"]) == [2]
    listed = CliRunner().invoke(app, ["index", "list"])
    assert listed.exit_code == 0 and "position 2" in listed.output
