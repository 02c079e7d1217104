"""The decoding budget: reservations wait, time out with DecoderBusy, are capped at the whole budget, and
are given back however the decode ends; hashing under a budget gives the same hashes."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from redline.signals import hash_image
from redline.signals.budget import DecodeBudget, DecoderBusy


@pytest.mark.timing
def test_a_full_budget_makes_the_next_reservation_wait_then_fail() -> None:
    budget = DecodeBudget(100, wait_s=0.2)
    with budget.reserve(80):
        started = time.perf_counter()
        with pytest.raises(DecoderBusy) as busy, budget.reserve(30):
            pass
        assert 0.15 < time.perf_counter() - started < 2 and busy.value.retry_after >= 1
        with budget.reserve(20):  # what fits is not held up
            assert budget.held == 100
    assert budget.held == 0 and budget.peak == 100


def test_a_waiting_reservation_gets_in_when_room_is_made() -> None:
    budget = DecodeBudget(100, wait_s=5)
    entered = threading.Event()

    def later() -> None:
        with budget.reserve(60):
            entered.set()

    with budget.reserve(60):
        waiter = threading.Thread(target=later)
        waiter.start()
        time.sleep(0.1)
        assert not entered.is_set()
    waiter.join(timeout=5)
    assert entered.is_set() and budget.held == 0


def test_larger_than_the_budget_runs_alone_and_errors_give_it_back() -> None:
    budget = DecodeBudget(100, wait_s=0)
    with budget.reserve(10_000):
        assert budget.held == 100
    with pytest.raises(RuntimeError), budget.reserve(50):
        raise RuntimeError("decoder failed")
    assert budget.held == 0


def test_hashes_are_the_same_with_a_budget_and_it_is_released() -> None:
    rng = np.random.default_rng(7)
    picture = Image.fromarray(rng.integers(0, 255, (900, 1300, 3), dtype=np.uint8))
    out = io.BytesIO()
    picture.save(out, "PNG")
    budget = DecodeBudget(64 * 1024 * 1024, wait_s=1)
    assert hash_image(out.getvalue(), budget=budget) == hash_image(out.getvalue())
    assert budget.held == 0 and budget.peak >= 900 * 1300 * 4
    budget.wait_s = 0.05
    with budget.reserve(budget.capacity), pytest.raises(DecoderBusy):  # full: refused, not decoded anyway
        hash_image(out.getvalue(), budget=budget)
