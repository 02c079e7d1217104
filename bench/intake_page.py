"""The portal's intake page (``intake.html``) in headless Chromium against ``redline intake`` on the same
collection, in the same run: files per second, hashing and filing included.

    PYTHONPATH=src .venv/bin/python bench/intake_page.py --persons 4 --pictures 10 --side 1600

The collection: ``--persons`` folders of ``--pictures`` neutral generated JPEGs (smooth random colour
fields, ``--side`` pixels square; no people). A Redline server (SQLite) on loopback in this process, a fresh
database per run of each tool. Each tool runs over the whole collection and over a one-file collection;
files/s is ``(N - 1) / (t_N - t_1)``, so start-up (a Python process, a page load) cancels out.

* baseline: ``redline intake FOLDER --yes`` (full-size decode, PDQ, stored region hashes, MD5/SHA-256,
  metadata, state, signed manifests, one request per person, sheets), a fresh process;
* the page: from pressing *Hash and file the cases* until the summary is shown (the portal's hashing
  workers, as many as the page starts: ``hardwareConcurrency - 1``, 1 to 4; signing, one request per
  person, the collection manifest, sheets rendered).

One JSON line per measurement on stdout, with the load average (the development machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.support import CHROMIUM_ARGS  # noqa: E402
from tests.support.media import distinct_picture  # noqa: E402

from intake import CLI, key, loadavg, serve, timed  # noqa: E402  (bench/intake.py)


def collection(root: Path, persons: int, pictures: int, side: int) -> int:
    for p in range(persons):
        folder = root / f"Person {p:02d}"
        folder.mkdir(parents=True)
        for n in range(pictures):
            (folder / f"IMG_{n:04d}.jpg").write_bytes(distinct_picture(1000 + p * 100 + n, "JPEG", side))
    return persons * pictures


def cli_seconds(root: Path, work: Path) -> float:
    url, app = serve(work / "server")
    flag = key(app, "flag")
    env = {**os.environ, "REDLINE_FLAG_KEY": flag}
    wall, _ = timed([*CLI, "intake", str(root), "--server", url, "--out", str(work / "out"), "--yes"], env)
    return wall


def page_seconds(browser: Any, root: Path, work: Path) -> float:
    from playwright.sync_api import expect

    url, app = serve(work / "server")
    page = browser.new_page()
    try:
        page.goto(f"{url}/intake.html?lang=en")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        page.get_by_test_id("flag-key").fill(key(app, "flag"))
        for box in ("intake-attest-adult", "intake-attest-one-person", "intake-attest-hand-over"):
            page.get_by_test_id(box).check()
        page.get_by_test_id("folder-input").set_input_files(str(root))
        started = time.perf_counter()
        page.get_by_test_id("intake-start").click()
        expect(page.locator("body")).to_have_attribute("data-intake", "done", timeout=3_600_000)
        seconds = time.perf_counter() - started
        assert page.locator("[data-testid=summary-row][data-filed=true]").count() >= 1
        return seconds
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=4)
    parser.add_argument("--pictures", type=int, default=10)
    parser.add_argument("--side", type=int, default=1600)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        work = Path(tmp)
        many = collection(work / "many", args.persons, args.pictures, args.side)
        collection(work / "one", 1, 1, args.side)
        executable = shutil.which("chromium") or "/usr/bin/chromium"
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        cores = browser.new_page().evaluate("() => navigator.hardwareConcurrency")
        workers = max(1, min(4, cores - 1))  # hashing.js's default pool
        results = {}
        for name, run in (
            ("redline intake", lambda folder, w: cli_seconds(folder, w)),
            ("intake page", lambda folder, w: page_seconds(browser, folder, w)),
        ):
            before = loadavg()
            one = run(work / "one", work / f"{name}-one")
            all_files = run(work / "many", work / f"{name}-many")
            rate = (many - 1) / max(all_files - one, 1e-9)
            results[name] = rate
            line = {"run": name, "files": many, "side": args.side, "seconds": round(all_files, 2)}
            line |= {"files_per_s": round(rate, 2), "load": f"{before} -> {loadavg()}"}
            if name == "intake page":
                line["page_workers"] = workers
            print(json.dumps(line), flush=True)
        ratio = results["intake page"] / results["redline intake"]
        print(json.dumps({"page_vs_cli_files_per_s": round(ratio, 2)}), flush=True)
        browser.close()


if __name__ == "__main__":
    main()
