"""HMA bank contents and StopNCII record dumps into Redline banks (with provenance); out in HMA's format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import Entry
from redline.cli.main import app

PDQ_1, PDQ_2, MD5_1 = "1" * 64, "2" * 63 + "a", "3" * 32


@pytest.fixture
def cli(db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("REDLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("REDLINE_DATA_DIR", str(tmp_path))
    with db.write() as session:
        for name in ("from-hma", "copy", "from-stopncii"):
            service.create_bank(session, name=name, actor="test")
    return CliRunner()


def entries(db: Database, bank: str) -> list[tuple[str, str, str, str]]:
    with db.read() as session:
        bank_id = service.get_bank(session, bank).id
        rows = session.execute(
            select(Entry.signal_type, Entry.value, Entry.status, Entry.origin)
            .where(Entry.bank_id == bank_id)
            .order_by(Entry.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_hma_contents_import_and_export_round_trip(cli: CliRunner, db: Database, tmp_path: Path) -> None:
    dump = tmp_path / "hma-bank.jsonl"
    dump.write_text(
        json.dumps({"id": 1, "signals": {"pdq": PDQ_1}, "bank": {"name": "X"}})
        + "\n"
        + json.dumps({"id": 2, "signals": {"video_md5": MD5_1.upper()}})
        + "\n"
    )
    signals = tmp_path / "signals.txt"
    signals.write_text(f"pdq {PDQ_2}\n# a comment\n\n")
    assert cli.invoke(app, ["hma", "import", str(dump), "--bank", "from-hma"]).exit_code == 0
    assert cli.invoke(app, ["hma", "import", str(signals), "--bank", "from-hma"]).exit_code == 0
    assert entries(db, "from-hma") == [
        ("pdq", PDQ_1, "active", "import:hma:hma-bank.jsonl"),
        ("md5", MD5_1, "active", "import:hma:hma-bank.jsonl"),
        ("pdq", PDQ_2, "active", "import:hma:signals.txt"),
    ]

    exported = cli.invoke(app, ["hma", "export", "--bank", "from-hma"])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [line["signals"] for line in lines] == [{"pdq": PDQ_1}, {"video_md5": MD5_1}, {"pdq": PDQ_2}]
    as_signals = cli.invoke(app, ["hma", "export", "--bank", "from-hma", "--format", "signals"])
    assert as_signals.stdout.splitlines() == [f"pdq {PDQ_1}", f"video_md5 {MD5_1}", f"pdq {PDQ_2}"]
    back = tmp_path / "exported.jsonl"
    back.write_text(exported.stdout)
    assert cli.invoke(app, ["hma", "import", str(back), "--bank", "copy"]).exit_code == 0
    assert [e[:2] for e in entries(db, "copy")] == [e[:2] for e in entries(db, "from-hma")]
    with db.read() as session:
        assert any(e.action == "bank.exported" for e in service.audit_page(session, 0, 1000))


def test_a_bad_hma_line_stores_nothing(cli: CliRunner, db: Database, tmp_path: Path) -> None:
    dump = tmp_path / "bad.jsonl"
    dump.write_text(f"pdq {PDQ_1}\ntmk 00\n" + json.dumps({"signals": {"pdq": "12"}}) + "\n{not json\n")
    result = cli.invoke(app, ["hma", "import", str(dump), "--bank", "from-hma"])
    assert result.exit_code == 1
    assert "line 2: No such SignalType 'tmk'" in result.output and "line 3" in result.output
    assert "line 4: not JSON" in result.output
    assert entries(db, "from-hma") == []


def test_stopncii_dump_import_honours_withdrawn(cli: CliRunner, db: Database, tmp_path: Path) -> None:
    def record(kind: str, value: str, status: str) -> dict[str, object]:
        return {"lastModtimestamp": 1, "signalType": kind, "hashValue": value, "hashStatus": status}

    first = tmp_path / "page1.json"
    first.write_text(
        json.dumps(
            {
                "count": 4,
                "nextPageToken": None,
                "nextSetTimestamp": 2,
                "hasMoreRecords": False,
                "hashRecords": [
                    record("ImagePDQ", PDQ_1, "Active"),
                    record("VideoMD5", MD5_1, "Received"),
                    record("VideoTMK", "00", "Active"),
                    record("ImagePDQ", PDQ_2, "Withdrawn"),
                ],
            }
        )
    )
    result = cli.invoke(app, ["stopncii", "import", str(first), "--bank", "from-stopncii"])
    assert result.exit_code == 0, result.output
    assert "2 added, 0 restored, 0 removed, 1 skipped" in result.stdout
    origin = "stopncii:import:page1.json"
    assert entries(db, "from-stopncii") == [
        ("pdq", PDQ_1, "active", origin),
        ("md5", MD5_1, "active", origin),
    ]

    # A later dump (JSON Lines of records): a snapshot replaces the earlier one.
    later = tmp_path / "page1.json.later"
    later.write_text(json.dumps(record("ImagePDQ", PDQ_1, "Withdrawn")) + "\n")
    later = later.rename(tmp_path / "page1.json")  # same source name: same provenance
    again = cli.invoke(app, ["stopncii", "import", str(later), "--bank", "from-stopncii"])
    assert "1 removed" in again.stdout
    assert entries(db, "from-stopncii")[0][2] == "expired"

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([record("ImagePDQ", "xyz", "Active")]))
    failed = cli.invoke(app, ["stopncii", "import", str(broken), "--bank", "from-stopncii"])
    assert failed.exit_code == 1 and "record 0" in failed.output
