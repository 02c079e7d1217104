"""``redline intake FOLDER``: one case per person, hashed here; no folder or file name leaves the machine
(a recording proxy captures every byte sent); summaries, duplicates, sheets, resuming."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from redline.cli.main import app
from tests.intake.conftest import Hub
from tests.support.capture import recording_proxy
from tests.support.media import distinct_picture

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

#: Folder and file names as a collection would have them: the women's names.
PERSONS = {"Chan Tai Man": 3, "黃美玲": 2, "Lee-Wing-Sze": 2}


def make_collection(root: Path) -> dict[str, list[Path]]:
    """Three persons' folders of neutral pictures: one duplicate inside a folder, one picture in two
    folders, a text file, and a sub-folder."""
    made: dict[str, list[Path]] = {}
    seed = 100
    for name, count in PERSONS.items():
        folder = root / name
        (folder / "summer 2024").mkdir(parents=True)
        made[name] = []
        for n in range(count):
            seed += 1
            path = folder / ("summer 2024" if n == 0 else "") / f"{name} beach {n}.jpg"
            path.write_bytes(distinct_picture(seed, "JPEG"))
            made[name].append(path)
    first = made["Chan Tai Man"][0]
    (root / "Chan Tai Man" / "Chan Tai Man copy.jpg").write_bytes(first.read_bytes())  # within
    (root / "黃美玲" / "黃美玲 from Chan.jpg").write_bytes(made["Chan Tai Man"][1].read_bytes())  # across
    (root / "Lee-Wing-Sze" / "Lee-Wing-Sze notes.txt").write_text("not a picture")
    return made


def _names(root: Path) -> set[str]:
    found = {p.name for p in root.rglob("*")} | {p.stem for p in root.rglob("*")}
    return found | set(PERSONS) | {"beach", "summer 2024", root.name}


def _leaked(sent: bytes, names: set[str]) -> list[str]:
    """Names found in the captured bytes, raw or in any of the ways JSON or a URL would write them."""
    leaks = []
    for name in names:
        forms = {name, json.dumps(name)[1:-1], json.dumps(name, ensure_ascii=False)[1:-1]}
        forms |= {httpx.URL("/", params={"q": name}).query.decode().split("=", 1)[1]}
        if any(form.encode() in sent for form in forms):
            leaks.append(name)
    return leaks


def run_intake(hub: Hub, server: str, root: Path, out: Path, *extra: str) -> str:
    args = [
        "intake",
        str(root),
        "--server",
        server,
        "--key",
        hub.flag_key,
        "--out",
        str(out),
        "--yes",
        *extra,
    ]
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_intake_sends_only_hashes_and_one_case_per_person(hub: Hub, tmp_path: Path) -> None:
    root = tmp_path / "Collection of Chan"
    make_collection(root)
    (root / "Chan Tai Man loose.jpg").write_bytes(distinct_picture(999, "JPEG"))  # in no person's folder
    out = tmp_path / "private"
    with recording_proxy(hub.url) as (proxy, recorder):
        output = run_intake(hub, proxy, root, out)
    sent = recorder.sent
    # The capture saw the hashes (so it did see the requests), and no name in any form.
    some_picture = next((root / "Chan Tai Man").rglob("*.jpg")).read_bytes()
    assert hashlib.sha256(some_picture).hexdigest().encode() in sent
    assert _leaked(sent, _names(root)) == []
    assert b"person-00" not in sent  # not even the sheets' neutral labels
    assert "1 files directly in the collection folder are in no person's folder" in output
    assert hashlib.sha256(distinct_picture(999, "JPEG")).hexdigest().encode() not in sent
    # One sheet per person, each with its own case and secret, in three languages.
    sheets = sorted((out / "sheets").glob("*.html"))
    assert len(sheets) == 3
    credentials = []
    for sheet in sheets:
        html = sheet.read_text("utf-8")
        for lang in ('lang="en"', 'lang="zh-Hant"', 'lang="zh-Hans"'):
            assert lang in html
        case_id = re.search(r'data-testid="case-id">([^<]+)<', html)
        secret = re.search(r"<span>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})</span>", html)
        assert case_id and secret
        assert ("Revenge Porn Helpline" in html and "RainLily" in html) or "風雨蘭" in html  # help services
        credentials.append((case_id[1], secret[1]))
    assert len({c for c, _ in credentials}) == 3 and len({s for _, s in credentials}) == 3
    for case_id, secret in credentials:
        case = httpx.get(f"{hub.url}/v1/cases/{case_id}", headers={"X-Case-Secret": secret}).json()
        assert case["third_party"] and not case["claimed"] and case["status"] == "active"
    # Per-person summary: files, hashed, failures with reasons, duplicates (counts, never whose).
    lines = {line.split("│")[2].strip(): line for line in output.splitlines() if line.count("│") > 8}
    chan, wong, lee = lines["Chan Tai Man"], lines["黃美玲"], lines["Lee-Wing-Sze"]
    cells = [c.strip() for c in chan.split("│")]
    assert cells[3:8] == ["4", "4", "0", "1", "1"]  # files, hashed, failed, dup within, dup across
    assert [c.strip() for c in wong.split("│")][3:8] == ["3", "3", "0", "0", "1"]
    assert "unsupported_format ×1" in lee or "unsupported" in lee
    # The server's rows: entries marked as the flagger's, items per picture (the duplicate sent once).
    engine = sa.create_engine(hub.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT case_id, COUNT(DISTINCT item), MIN(origin) FROM entries GROUP BY case_id")
            ).all()
    finally:
        engine.dispose()
    assert sorted(n for _, n, _ in rows) == [2, 3, 3]
    assert all(origin.startswith("flag:") for _, _, origin in rows)
    # The flagger keeps the signed manifests and their encrypted private parts; the collection is logged.
    assert len(list((out / "manifests").glob("*.manifest"))) == 3
    assert len(list((out / "manifests").glob("*.private.enc"))) == 3
    assert (out / "collection.manifest").is_file()
    for private in (out / "manifests").glob("*.private.enc"):
        assert _leaked(private.read_bytes(), _names(root)) == []


def test_a_rerun_files_nobody_twice_and_resumes_an_interrupted_hashing(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redline.cli.intake as intake_cli

    root = tmp_path / "collection"
    make_collection(root)
    out = tmp_path / "private"
    real = intake_cli._hash_one
    calls: list[str] = []

    def interrupted(path: Path, rel: str) -> object:
        if len(calls) == 4:
            raise KeyboardInterrupt
        calls.append(rel)
        return real(path, rel)

    monkeypatch.setattr(intake_cli, "_hash_one", interrupted)
    args = ["intake", str(root), "--server", hub.url, "--key", hub.flag_key, "--out", str(out), "--yes"]
    CliRunner().invoke(app, args)
    assert len(calls) == 4 and not list((out / "sheets").glob("*.html"))  # nothing filed yet
    monkeypatch.setattr(intake_cli, "_hash_one", lambda p, r: calls.append(r) or real(p, r))
    run_intake(hub, hub.url, root, out)
    assert len(calls) == 10 and len(set(calls)) == 10  # 10 files; the 4 hashed before not hashed again
    output = run_intake(hub, hub.url, root, out)
    assert output.count("filed earlier") == 3
    assert len(list((out / "sheets").glob("*.html"))) == 3
    engine = sa.create_engine(hub.database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM cases")).scalar() == 3
    finally:
        engine.dispose()


def test_a_mapping_file_decides_whose_files_are_whose(hub: Hub, tmp_path: Path) -> None:
    root = tmp_path / "collection"
    make_collection(root)
    mapping = tmp_path / "mapping.tsv"
    result = CliRunner().invoke(app, ["intake", str(root), "--write-mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    lines = mapping.read_text("utf-8").splitlines()
    assert lines[1:] == sorted(f"{name}\t{name}" for name in PERSONS)
    # The flagger merges two folders into one person and leaves the third out.
    mapping.write_text("same woman\tChan Tai Man\nsame woman\t黃美玲\n", encoding="utf-8")
    out = tmp_path / "private"
    output = run_intake(hub, hub.url, root, out, "--mapping", str(mapping))
    assert len(list((out / "sheets").glob("*.html"))) == 1
    row = next(line for line in output.splitlines() if "same woman" in line)
    assert [c.strip() for c in row.split("│")][3:8] == ["7", "7", "0", "2", "0"]


def test_refusals_are_clear_and_send_nothing(hub: Hub, tmp_path: Path) -> None:
    root = tmp_path / "collection"
    make_collection(root)
    runner = CliRunner()
    no_key = runner.invoke(
        app, ["intake", str(root), "--server", hub.url, "--yes"], env={"REDLINE_FLAG_KEY": ""}
    )
    assert no_key.exit_code == 2 and "flag key" in no_key.output
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.jpg").write_bytes(distinct_picture(1, "JPEG"))
    refused = runner.invoke(app, ["intake", str(flat), "--server", hub.url, "--key", hub.flag_key, "--yes"])
    assert refused.exit_code == 2 and "sub-folders" in refused.output
    match_key = runner.invoke(
        app,
        [
            "intake",
            str(root),
            "--server",
            hub.url,
            "--key",
            "rk_nope_nope",
            "--out",
            str(tmp_path / "o"),
            "--yes",
        ],
    )
    assert match_key.exit_code == 2 and "401" in match_key.output
