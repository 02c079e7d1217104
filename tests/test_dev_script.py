"""``./dev`` on a machine where another apt holds dpkg's lock: it waits (apt's lock timeout), and when apt
still fails it says what to do instead of ending on apt's raw error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support import REPO_ROOT

FAKE_APT = """#!/bin/sh
echo "$@" >> "{log}"
case "$*" in *install*) echo "E: Could not get lock /var/lib/dpkg/lock-frontend" >&2; exit 100;; esac
exit 0
"""


def fake_tools(bin_dir: Path, log: Path) -> None:
    """``apt-get`` that fails on install like a held lock; ``dpkg -s`` that knows no package; root ``id``."""
    bin_dir.mkdir()
    tools = {"apt-get": FAKE_APT.format(log=log), "dpkg": "#!/bin/sh\nexit 1\n", "id": "#!/bin/sh\necho 0\n"}
    for name, text in tools.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)


def test_dev_waits_for_the_apt_lock_and_says_what_to_do(tmp_path: Path) -> None:
    log = tmp_path / "apt.log"
    fake_tools(tmp_path / "bin", log)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    run = subprocess.run(
        [str(REPO_ROOT / "dev"), "test"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 1
    calls = log.read_text().splitlines()
    assert calls and all("DPkg::Lock::Timeout=300" in call for call in calls), calls
    assert any("install" in call and "fonts-noto-cjk" in call and "chromium" in call for call in calls)
    assert "let it finish and run ./dev again" in run.stderr
    assert "apt-get install" in run.stderr  # the manual way, with the package names
