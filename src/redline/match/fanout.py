"""Searching a match index split across shard processes (``redline shard serve``; docs/SHARDS.md).

Both ends of the one internal call live here, so they cannot drift apart:

* the shard side, :func:`parse_searches` and :func:`answer`: a shard process searches its part
  (``redline.match.shards.ShardSpec``) with its own ``Matcher``, which loads, polls and snapshots exactly as
  an unsharded one does, for its entries only;
* the API side, :class:`ShardClient` and :class:`ShardedMatcher`: an API process whose settings name shards
  sends every index search of a ``match()`` to all of them at once (one request per shard), and merges the
  hits by distance then id — exactly the hits one process holding the whole index would find, because the
  shards' parts are disjoint and together complete. The rest of ``match()`` (the database re-check of every
  candidate: active, bank enabled, within the bank's threshold) runs unchanged in the API process.

A shard that does not answer, answers late, or answers as another shard fails the whole search with
:class:`ShardUnavailable` (503 ``index-unavailable``): partial results would be silently missed hashes, and a
missed hash is a copy left online.

Wire format (JSON; the shared secret as ``Authorization: Bearer``, since hashes are sensitive)::

    POST /internal/search  {"searches": [{"signal_type": "pdq", "threshold": 31, "sure": null,
                                          "values": [hex, ...]}, ...]}
    -> {"shard": "shard-0-of-4", "position": 1234,
        "results": [[{"ids": [...], "distances": [...]}, ... one per value], ... one per search]}
    GET /readyz -> {"status": "ready", "shard": "shard-0-of-4", "entries": n, "change_log_position": p}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from redline.bank.db import Database
from redline.config import Settings
from redline.index import Hits
from redline.match.service import IndexSearch, Matcher
from redline.match.shards import ShardSpec
from redline.signals.types import signal_type

log = logging.getLogger(__name__)

SEARCH_PATH = "/internal/search"
READY_PATH = "/readyz"
#: How often a ready API process refreshes the shards' entry counts and positions (for /readyz, metrics).
_STATUS_INTERVAL_S = 5.0


class ShardUnavailable(RuntimeError):
    """A shard gave no usable answer: the search has no complete result. The message is for the server log
    (it names the shard's address); clients get a generic problem."""


# --- shard side ---------------------------------------------------------------------------------------------


def parse_searches(body: Any) -> list[IndexSearch]:
    """The searches of a ``/internal/search`` body; ``ValueError`` says what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("searches"), list):
        raise ValueError('expected {"searches": [...]}')
    searches = []
    for each in body["searches"]:
        if not isinstance(each, dict):
            raise ValueError("each search must be an object")
        name, threshold, values = each.get("signal_type"), each.get("threshold"), each.get("values")
        try:
            kind = signal_type(str(name))
        except KeyError as exc:
            raise ValueError(str(exc)) from None
        if not kind.indexed():
            raise ValueError(f"{kind.name} is not an indexed signal type")
        if (
            not isinstance(threshold, int)
            or isinstance(threshold, bool)
            or not 0 <= threshold <= kind.hash_length
        ):
            raise ValueError(f"threshold must be an integer from 0 to {kind.hash_length}")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError("values must be a list of hex strings")
        sure = each.get("sure")
        if sure is not None and (
            not isinstance(sure, int) or isinstance(sure, bool) or not 0 <= sure <= kind.hash_length
        ):
            raise ValueError(f"sure must be null or an integer from 0 to {kind.hash_length}")
        searches.append(IndexSearch(kind.name, [kind.normalize(v) for v in values], threshold, sure))
    return searches


def answer(matcher: Matcher, searches: Sequence[IndexSearch]) -> dict[str, Any]:
    """A shard's answer: every code of its part within each search's threshold, and its change-log
    position."""
    assert matcher.shard is not None, "only a shard process answers for a part of the index"
    position = matcher.position  # read before searching: the hits reflect at least this position
    results = matcher.search(searches)
    return {
        "shard": matcher.shard.label,
        "position": position,
        "results": [
            [{"ids": h.ids.tolist(), "distances": h.distances.tolist()} for h in hits] for hits in results
        ],
    }


# --- API side -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardStatus:
    label: str
    entries: int
    position: int


class ShardClient:
    """The shards of one index, in order: the k-th URL must serve shard k of ``len(urls)``, which every
    answer is checked against (a missing, repeated or misordered URL would otherwise drop a part)."""

    def __init__(self, urls: Sequence[str], secret: str, timeout_s: float) -> None:
        if not urls:
            raise ValueError("no shard URLs")
        if not secret:
            raise ValueError(
                "REDLINE_SHARD_SECRET must be set when REDLINE_SHARDS is: shards refuse searches without it"
            )
        self.urls = [url.rstrip("/") for url in urls]
        self.specs = [ShardSpec(k, len(self.urls)) for k in range(len(self.urls))]
        self._headers = {"Authorization": f"Bearer {secret}"}
        # Enough connections that concurrent requests of this process each reach every shard at once.
        connections = 16 * len(self.urls)
        self._http = httpx.Client(
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        self._pool = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="redline-shards")

    @classmethod
    def from_settings(cls, settings: Settings) -> ShardClient:
        urls = [url.strip() for url in settings.shards.split(",") if url.strip()]
        return cls(urls, settings.shard_secret, settings.shard_timeout_s)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def _call(self, k: int, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url, label = self.urls[k], self.specs[k].label
        try:
            response = self._http.request(method, url + path, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise ShardUnavailable(f"{label} at {url} did not answer: {type(exc).__name__} {exc}") from None
        if response.status_code != 200:
            raise ShardUnavailable(f"{label} at {url} answered {response.status_code}")
        try:
            answered: dict[str, Any] = response.json()
        except ValueError:
            raise ShardUnavailable(f"{label} at {url} answered something other than JSON") from None
        if answered.get("shard") != label:
            raise ShardUnavailable(
                f"{url} is {answered.get('shard')!r}, not {label}: "
                "REDLINE_SHARDS must list every shard, in order"
            )
        return answered

    def status(self) -> list[ShardStatus]:
        """Every shard's readiness, asked at once; ``ShardUnavailable`` if any is not ready."""
        answers = [
            f.result()
            for f in [self._pool.submit(self._call, k, "GET", READY_PATH) for k in range(len(self.urls))]
        ]
        return [ShardStatus(a["shard"], int(a["entries"]), int(a["change_log_position"])) for a in answers]

    def search(self, searches: Sequence[IndexSearch]) -> list[list[Hits]]:
        """All shards' hits for each search, merged per value by distance then id."""
        if not searches:
            return []
        body = {
            "searches": [
                {
                    "signal_type": s.signal_type,
                    "threshold": s.threshold,
                    "sure": s.sure,
                    "values": list(s.values),
                }
                for s in searches
            ]
        }
        futures = [self._pool.submit(self._call, k, "POST", SEARCH_PATH, body) for k in range(len(self.urls))]
        answers = [f.result() for f in futures]  # the first failure is raised: no partial results
        merged: list[list[Hits]] = []
        for j, each in enumerate(searches):
            parts = [self._part(k, answers[k], j, len(each.values)) for k in range(len(answers))]
            hits = []
            for i in range(len(each.values)):
                ids = np.concatenate([part[i][0] for part in parts])
                distances = np.concatenate([part[i][1] for part in parts])
                order = np.lexsort((ids, distances))
                hits.append(Hits(ids=ids[order], distances=distances[order]))
            merged.append(hits)
        return merged

    def _part(self, k: int, answered: dict[str, Any], j: int, count: int) -> list[tuple[Any, Any]]:
        """Shard ``k``'s hits for search ``j`` as arrays, checked: one result per value, only its own ids."""
        spec = self.specs[k]
        try:
            results = answered["results"][j]
            part = [
                (np.asarray(r["ids"], dtype=np.int64), np.asarray(r["distances"], dtype=np.int32))
                for r in results
            ]
        except (KeyError, IndexError, TypeError, ValueError):
            raise ShardUnavailable(f"{spec.label} at {self.urls[k]} gave a malformed answer") from None
        if len(part) != count or any(
            len(ids) != len(d) or (ids % spec.count != spec.index).any() for ids, d in part
        ):
            raise ShardUnavailable(f"{spec.label} at {self.urls[k]} gave an answer that is not its part's")
        return part


class ShardedMatcher(Matcher):
    """An API process's matcher when the index lives in shard processes: it holds no index itself, sends
    index searches to every shard, and keeps only the banks' search thresholds current from the database
    (exact types and the re-check of candidates use the database as always). Ready once every shard is."""

    def __init__(
        self,
        db: Database,
        client: ShardClient,
        *,
        min_quality: int,
        poll_interval: float,
        sure_radii: Mapping[str, int | None] | None = None,
    ) -> None:
        super().__init__(db, min_quality=min_quality, poll_interval=poll_interval, sure_radii=sure_radii)
        self.client = client
        self._entries = 0
        self._status_time = 0.0
        self._waiting_for = ""

    def load(self) -> None:
        started = time.perf_counter()
        with self._db.engine.connect() as conn:
            self._refresh_thresholds(conn)
        try:
            self._refresh_status()
        except ShardUnavailable as exc:  # shards still loading: wait (said once per reason, not per poll)
            if str(exc) != self._waiting_for:
                log.info("waiting for the match index shards: %s", exc)
                self._waiting_for = str(exc)
            return
        self.loaded_from = "shards"
        self.load_seconds = time.perf_counter() - started
        log.info("match index shards ready: %d entries in %d shards", self._entries, len(self.client.urls))
        self.ready.set()

    def poll(self) -> int:
        with self._db.engine.connect() as conn:
            self._refresh_thresholds(conn)
        self.last_poll = time.time()
        if time.monotonic() - self._status_time > _STATUS_INTERVAL_S:
            try:
                self._refresh_status()
            except ShardUnavailable as exc:
                log.warning("a match index shard is unavailable: %s", exc)
        return 0

    def _refresh_status(self) -> None:
        statuses = self.client.status()
        self._entries = sum(s.entries for s in statuses)
        # The index as a whole reflects the change log at least up to its slowest shard's position.
        self.position = min(s.position for s in statuses)
        self._status_time = time.monotonic()

    @property
    def size(self) -> int:
        return self._entries

    def search(self, searches: Sequence[IndexSearch]) -> list[list[Hits]]:
        return self.client.search(searches)

    def stop(self) -> None:
        super().stop()
        self.client.close()
