"""The one retry decision, as a table: each row an attempt's outcome and what comes next."""

from __future__ import annotations

import pytest

from connector.hubspot.retry import Attempt, Decision, decide

ROWS: list[tuple[str, Attempt, dict[str, object], Decision]] = [
    ("200 is the answer", Attempt(200), {}, Decision("answer")),
    ("an expected 404 is the answer", Attempt(404), {"expect": frozenset({404})},
     Decision("answer")),
    ("an unexpected 404 fails", Attempt(404), {}, Decision("fail")),
    ("400 fails at once", Attempt(400), {}, Decision("fail")),
    ("401 on a cached token refreshes", Attempt(401), {}, Decision("refresh")),
    ("401 again, on a used token, refreshes", Attempt(401), {"number": 4}, Decision("refresh")),
    ("401 on a fresh token: bad credentials", Attempt(401, fresh_token=True), {}, Decision("fail")),
    ("a fresh token expired before its use refreshes, as a retry",
     Attempt(401, fresh_token=True, expired=True), {}, Decision("refresh", counted=True)),
    ("... within the budget", Attempt(401, fresh_token=True, expired=True), {"number": 6},
     Decision("fail")),
    ("429 is retried", Attempt(429, policy="TEN_SECONDLY_ROLLING"), {}, Decision("retry")),
    ("a DAILY 429 is not", Attempt(429, policy="DAILY"), {}, Decision("fail")),
    ("423 is retried", Attempt(423), {}, Decision("retry")),
    ("503 is retried", Attempt(503), {}, Decision("retry")),
    ("503 past the budget fails", Attempt(503), {"number": 6}, Decision("fail")),
    ("no answer is retried", Attempt(None), {}, Decision("retry")),
    ("no answer past the budget fails", Attempt(None), {"number": 6}, Decision("fail")),
    ("a create with no answer looks first", Attempt(None), {"idempotent": False},
     Decision("retry", recover=True)),
    ("a create refused at connect does not", Attempt(None, reached=False), {"idempotent": False},
     Decision("retry")),
    ("a create's 503 looks first", Attempt(503), {"idempotent": False},
     Decision("retry", recover=True)),
    ("a create's 429 proves nothing was done", Attempt(429), {"idempotent": False},
     Decision("retry")),
    ("a create's 477 too", Attempt(477), {"idempotent": False}, Decision("retry")),
    ("a create's 409 after an ambiguous attempt looks", Attempt(409),
     {"idempotent": False, "ambiguous": True}, Decision("fail", recover=True)),
    ("a create's first 409 is AlreadyExists", Attempt(409), {"idempotent": False},
     Decision("fail")),
    ("a create's 201 is the answer", Attempt(201), {"idempotent": False}, Decision("answer")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("attempt", "given", "decision"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_decide(attempt: Attempt, given: dict[str, object], decision: Decision) -> None:
    arguments: dict[str, object] = {"number": 1, "max_retries": 5}
    arguments.update(given)
    assert decide(attempt, **arguments) == decision  # type: ignore[arg-type]
