"""Running ``redline serve`` (or ``redline shard serve``) as a real process on a free port, for multi-worker,
kill -9 and shard tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REDLINE = Path(sys.executable).parent / "redline"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_LOADED = re.compile(rb"match index (?:shards )?ready")


class Server:
    def __init__(
        self,
        database_url: str,
        data_dir: Path,
        workers: int = 1,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        ready_timeout: float = 60.0,
        command: tuple[str, ...] = (),
        wait: bool = True,
    ) -> None:
        """``command``: the ``redline`` sub-command and its options (default ``serve --workers N``; the port
        is added); ``wait=False`` returns at once: start several, then ``wait_ready`` each, so they load side
        by side."""
        self._terminated = False
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"server-{self.port}.log"
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        env = {
            **os.environ,
            "REDLINE_DATABASE_URL": database_url,
            "REDLINE_DATA_DIR": str(data_dir),
            "REDLINE_CHANGE_POLL_INTERVAL": "0.25",
            **(env or {}),
        }
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(REDLINE),
                    *(command or ("serve", "--workers", str(workers))),
                    "--port",
                    str(self.port),
                    *args,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 reaches every worker
            )
        if wait:
            self.wait_ready(workers, ready_timeout)

    def wait_ready(self, workers: int, timeout: float = 60.0) -> None:
        """Ready when every worker has logged that its index is loaded and then ``workers * 4`` fresh
        connections in a row answer /readyz with 200. (The streak alone is not enough: a worker busy loading
        its index seldom accepts a connection, so the one already loaded could answer the whole streak.)"""
        deadline = time.monotonic() + timeout
        streak = 0
        while streak < workers * 4 or self._workers_loaded() < workers:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"server did not become ready:\n{self.log.read_text()[-3000:]}")
            try:
                ok = httpx.get(self.url + "/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            streak = streak + 1 if ok else 0
            if not ok:
                time.sleep(0.1)

    def _workers_loaded(self) -> int:
        """How many processes of this server have logged "match index ready" (or "... shards ready")."""
        with open(self.log, "rb") as log:
            log.seek(self._log_start)
            return len(_LOADED.findall(log.read()))

    def kill_hard(self) -> None:
        """``kill -9`` the whole process group: no shutdown handlers, no flushing."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM, without waiting: to stop several side by side, then ``stop`` each."""
        if self.process.poll() is None and not self._terminated:
            os.killpg(self.process.pid, signal.SIGTERM)
            self._terminated = True

    def stop(self) -> None:
        self.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill_hard()


def shard(database_url: str, data_dir: Path, index: int, count: int, env: dict[str, str]) -> Server:
    """``redline shard serve --shard INDEX --of COUNT``, not yet ready (``wait_ready(1)``)."""
    command = ("shard", "serve", "--shard", str(index), "--of", str(count))
    return Server(database_url, data_dir, env=env, command=command, wait=False)
