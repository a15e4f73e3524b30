"""Token bucket and windows, on a fake clock: no sleeping, no timing."""

from __future__ import annotations

import pytest

from connector.hubspot.ratelimit import RateLimiter, SlidingWindow, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_stores_one_second_of_permits_then_spaces_them() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    waits = [bucket.reserve() for _ in range(12)]
    assert waits[:10] == [0.0] * 10
    assert waits[10] == pytest.approx(0.1)
    assert waits[11] == pytest.approx(0.2)


def test_bucket_refills_at_its_rate_up_to_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, clock=clock)
    bucket.reserve(), bucket.reserve()
    clock.now += 60
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]


def test_try_take_refuses_without_going_into_debt() -> None:
    """The server's frame limit: a burst, then one frame per 1/rate; a refusal costs nothing."""
    clock = FakeClock()
    bucket = TokenBucket(10, capacity=3, clock=clock)
    assert [bucket.try_take() for _ in range(5)] == [True, True, True, False, False]
    clock.now += 0.15  # one and a half permits' time: one frame
    assert [bucket.try_take() for _ in range(2)] == [True, False]


def test_window_waits_for_the_oldest_call_to_leave() -> None:
    clock = FakeClock()
    window = SlidingWindow(3, 10.0, clock=clock)
    assert [window.delay() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 4
    assert window.delay() == pytest.approx(10.2 - 4)
    clock.now += 6.3
    assert window.delay() == 0.0


def test_unknown_limit_does_not_hold_calls() -> None:
    window = SlidingWindow(None, 10.0, clock=FakeClock())
    assert all(window.delay() == 0.0 for _ in range(1000))


def test_headers_teach_the_window_and_count_other_callers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, 5, clock=clock)
    window = limiter.window
    for _ in range(2):
        assert window.delay() == 0.0
    # HubSpot saw 10 calls in its window, of which 2 were ours: 8 came from someone else.
    limiter.observe(
        {
            "X-HubSpot-RateLimit-Max": "12",
            "X-HubSpot-RateLimit-Remaining": "2",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }
    )
    assert window.limit == 12
    # 12 - 1 kept free - 8 foreign = 3 for us; 2 used.
    assert window.delay() == 0.0
    assert window.delay() > 0


def test_search_responses_without_headers_change_nothing() -> None:
    limiter = RateLimiter(10, 5, clock=FakeClock())
    limiter.observe({"X-HubSpot-Correlation-Id": "x"})
    assert limiter.window.limit is None


def test_a_429_on_a_full_window_pauses_it_until_a_slot_frees() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, 5, clock=clock)
    for _ in range(5):
        assert limiter.search.delay() == 0.0
    clock.now += 0.4
    assert limiter.refused("SECONDLY", None, search=True) == pytest.approx(1.02 - 0.4)
    assert limiter.search.delay() == pytest.approx(1.02 - 0.4)
    assert limiter.window.delay() == 0.0
    assert limiter.refused("TEN_SECONDLY_ROLLING", 3.0, search=False) == 3.0
    assert limiter.window.delay() == pytest.approx(3.0)


def test_a_429_on_a_window_with_room_holds_nobody() -> None:
    """A 429 HubSpot gives now and then (the window says there is room) is a short back-off
    for the refused call, not a pause of the whole window: that stalled a configuration for
    8 to 13 s per refusal."""
    clock = FakeClock()
    limiter = RateLimiter(1000, 5, clock=clock)
    limiter.observe(
        {
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Remaining": "90",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }
    )
    for _ in range(9):
        assert limiter.window.delay() == 0.0
    assert limiter.refused("TEN_SECONDLY_ROLLING", None, search=False) == 0.0
    assert limiter.window.delay() == 0.0
    assert limiter.search.delay() == 0.0
    assert limiter.refused("SECONDLY", None, search=True) == 0.0
    assert limiter.search.delay() == 0.0


def test_a_429_saying_the_window_is_exhausted_waits_for_its_oldest_call() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, 5, clock=clock)
    assert limiter.window.delay() == 0.0  # ours, at t=100
    clock.now += 2
    # The 429's own headers: nothing left; 9 calls were someone else's.
    limiter.observe(
        {
            "X-HubSpot-RateLimit-Max": "10",
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }
    )
    assert limiter.refused("TEN_SECONDLY_ROLLING", None, search=False) == pytest.approx(10.2 - 2)
