"""Prometheus metrics. One registry per app (tests build many apps in one process); each server process
reports its own numbers (scrape each worker, or run one worker per container)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from redline.match.service import Matcher
from redline.mirror.sync import Status


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "redline_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "redline_http_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
        )
        self.queries = Counter("redline_match_queries", "Hashes looked up", ["type"], registry=self.registry)
        self.matches = Counter("redline_matches", "Matches returned", ["type"], registry=self.registry)
        self.cases = Counter("redline_cases_created", "Survivor cases created", registry=self.registry)
        self.withdrawals = Counter(
            "redline_cases_withdrawn", "Survivor cases withdrawn", registry=self.registry
        )
        self.index_entries = Gauge(
            "redline_index_entries", "Hashes in this process's match index", registry=self.registry
        )
        self.index_position = Gauge(
            "redline_change_log_position", "Last change-log row applied", registry=self.registry
        )
        self.index_load = Gauge(
            "redline_index_load_seconds",
            "Seconds the match index took to become ready at start, by source (snapshot or database)",
            ["source"],
            registry=self.registry,
        )
        self.index_replayed = Gauge(
            "redline_index_load_replayed_changes",
            "Change-log rows replayed after the snapshot or rebuild before ready",
            registry=self.registry,
        )
        self.index_age = Gauge(
            "redline_change_log_poll_age_seconds",
            "Seconds since the change log was read",
            registry=self.registry,
        )

        self.mirror_position = Gauge(
            "redline_mirror_position",
            "Hub change-log row the mirror has applied",
            ["mirror"],
            registry=self.registry,
        )
        self.mirror_lag_changes = Gauge(
            "redline_mirror_lag_changes",
            "Hub change-log rows the mirror had not read yet at its last page",
            ["mirror"],
            registry=self.registry,
        )
        self.mirror_lag = Gauge(
            "redline_mirror_lag_seconds",
            "Seconds since the mirror last read its hub's feed to the end (-1: never)",
            ["mirror"],
            registry=self.registry,
        )
        self.mirror_entries = Gauge(
            "redline_mirror_entries", "Active entries the mirror holds", ["mirror"], registry=self.registry
        )
        self.mirror_refused = Gauge(
            "redline_mirror_refused_pages",
            "Pages refused for integrity (unsigned, altered, replayed, rolled back) since the mirror was "
            "added: alert when it grows",
            ["mirror"],
            registry=self.registry,
        )
        self.mirror_failing = Gauge(
            "redline_mirror_failing",
            "1 when the mirror's last attempt failed (its error is in redline mirror list)",
            ["mirror"],
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self, matcher: Matcher, mirrors: Sequence[Status] = ()) -> bytes:
        import time

        for m in mirrors:
            self.mirror_position.labels(m.name).set(m.position)
            self.mirror_lag_changes.labels(m.name).set(m.lag_changes)
            self.mirror_lag.labels(m.name).set(m.lag_s if m.lag_s is not None else -1)
            self.mirror_entries.labels(m.name).set(m.entries)
            self.mirror_refused.labels(m.name).set(m.refused)
            self.mirror_failing.labels(m.name).set(1 if m.last_error else 0)
        self.index_entries.set(matcher.size)
        self.index_position.set(matcher.position)
        self.index_age.set(time.time() - matcher.last_poll if matcher.last_poll else -1)
        if matcher.loaded_from:
            self.index_load.labels(matcher.loaded_from).set(matcher.load_seconds)
            self.index_replayed.set(matcher.caught_up)
        return generate_latest(self.registry)
