from __future__ import annotations

import random

from redline.actions.backoff import Backoff


def test_exponential_steps_capped() -> None:
    b = Backoff(base_s=5, cap_s=60)
    assert [b.step(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert b.step(10_000) == 60  # no overflow on absurd attempt counts


def test_jitter_stays_in_range_and_spreads() -> None:
    b = Backoff(base_s=8, cap_s=1000, jitter=0.5)
    rng = random.Random(1)
    delays = [b.delay(3, rng) for _ in range(500)]
    assert all(16 <= d <= 32 for d in delays)
    assert max(delays) - min(delays) > 10  # actually jittered, not lock-step


def test_max_age() -> None:
    b = Backoff(max_age_s=100)
    assert not b.expired(99.9)
    assert b.expired(100)
