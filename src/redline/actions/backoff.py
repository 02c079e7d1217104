"""Retry schedule for webhook deliveries: exponential backoff with full jitter, bounded by a maximum age.

Why jitter: when a receiver comes back after an outage, thousands of queued deliveries would otherwise
retry in lock-step and knock it over again. Jitter (a uniform delay between half and all of the
exponential step) spreads them out while keeping the expected delay close to the schedule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    #: Delay before the first retry (seconds).
    base_s: float = 5.0
    #: Upper bound of any single delay (seconds).
    cap_s: float = 3600.0
    #: A delivery not acknowledged this long after the event was created goes to the dead-letter state.
    max_age_s: float = 3 * 24 * 3600.0
    #: Fraction of each step that is randomised: the delay is in ``[step * (1 - jitter), step]``.
    jitter: float = 0.5

    def step(self, attempt: int) -> float:
        """The un-jittered delay after failed attempt number ``attempt`` (1-based)."""
        exponent = min(max(attempt - 1, 0), 62)
        return float(min(self.cap_s, self.base_s * (2**exponent)))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` before the next one."""
        step = self.step(attempt)
        draw = (rng or random).random()
        return step * (1.0 - self.jitter * draw)

    def expired(self, age_s: float) -> bool:
        """Whether an event of this age should no longer be retried."""
        return age_s >= self.max_age_s
