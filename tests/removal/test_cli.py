"""``redline removals``: the open requests, a record's exports, the figures, from the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from redline.bank.db import Database
from redline.bank.hashes import normalize_hash
from redline.bank.secrets import ContactCipher
from redline.cli.main import app
from redline.removal.requests import file_request, get_request, items_of, remove_item, resolve_item
from redline.removal.validation import RequestForm


def test_list_export_report(db: Database, database_url: str, cipher: ContactCipher) -> None:
    form = RequestForm(
        jurisdiction="us",
        subject="self",
        name="Maria Example",
        email="maria@example.org",
        signature="Maria Example",
        pictures=[[normalize_hash("md5", "a" * 32)]],
        statements=frozenset({"good_faith_non_consent"}),
    )
    with db.write() as s:
        new = file_request(s, form, cipher)
    env = {"REDLINE_DATABASE_URL": database_url}
    listed = CliRunner().invoke(app, ["removals", "list"], env=env)
    assert listed.exit_code == 0 and new.number in listed.output and "48.0 h left" in listed.output
    with db.write() as s:
        request = get_request(s, new.number)
        (item,) = items_of(s, request.id)
        resolve_item(s, request, item.id, "post-1", actor="user:1")
        remove_item(s, request, item.id, method="removed", actor="user:1", bank_name="removals")
    dsa = CliRunner().invoke(app, ["removals", "export", new.number, "--format", "dsa"], env=env)
    assert dsa.exit_code == 0 and json.loads(dsa.output)[0]["puid"] == "post-1"
    assert "maria" not in dsa.output.lower()
    csv = CliRunner().invoke(app, ["removals", "export", new.number, "--format", "csv"], env=env)
    assert csv.output.startswith("request,at,actor,kind,details") and "item.removed" in csv.output
    report = CliRunner().invoke(app, ["removals", "report", "--days", "1"], env=env)
    assert json.loads(report.output)["within_deadline_share"] == 1.0
    missing = CliRunner().invoke(app, ["removals", "export", "TD-NONE"], env=env)
    assert missing.exit_code != 0 and "no such removal request" in missing.output
    assert CliRunner().invoke(app, ["removals", "list"], env=env).output.strip() == "no open removal requests"
