"""Value formats: ISO-8601 UTC with milliseconds, epoch-ms and ISO inputs (§1.8)."""

from __future__ import annotations

import pytest

from emulator.values import Clock, format_date, format_datetime_ms, parse_date_ms, parse_datetime_ms


@pytest.mark.parametrize(
    ("epoch_ms", "omit", "text"),
    [
        (1705521304281, False, "2024-01-17T19:55:04.281Z"),
        (1705521304000, False, "2024-01-17T19:55:04.000Z"),
        (1705521304000, True, "2024-01-17T19:55:04Z"),
        (0, False, "1970-01-01T00:00:00.000Z"),
    ],
)
def test_format_datetime(epoch_ms: int, omit: bool, text: str) -> None:
    assert format_datetime_ms(epoch_ms, omit_zero_ms=omit) == text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1705521304281", 1705521304281),
        (1705521304281, 1705521304281),
        (1705521304281.0, 1705521304281),
        ("2024-01-17T19:55:04.281Z", 1705521304281),
        ("2024-01-17T20:55:04.281+01:00", 1705521304281),
        ("2024-01-17", 1705449600000),
        ("yesterday", None),
        (True, None),
        (None, None),
        (1.5, None),
    ],
)
def test_parse_datetime(raw: object, expected: int | None) -> None:
    assert parse_datetime_ms(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2024-02-29", 1709164800000), (1709164800000, 1709164800000), (1709164800001, None)],
)
def test_dates_are_utc_midnight(raw: object, expected: int | None) -> None:
    assert parse_date_ms(raw) == expected
    if expected is not None:
        assert format_date(expected) == "2024-02-29"


def test_clock_is_strictly_increasing_and_advances() -> None:
    clock = Clock()
    stamps = [clock.now_ms() for _ in range(1000)]
    assert stamps == sorted(set(stamps))
    before = clock.monotonic()
    clock.advance(100)
    assert clock.monotonic() - before >= 100
