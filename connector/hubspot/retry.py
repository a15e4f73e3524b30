"""The one retry decision: what to do after one attempt at a call to HubSpot.

Every call (the token refresh included, http.py) asks `decide` after each attempt, so the rules
live in one pure function, pinned by a table test (tests/connector/hubspot/test_retry.py):

- an answer in 2xx (or one the caller expects) is the result;
- 401: refresh the access token and resend, as often as needed within the call, unless the
  refused token was fresh (fetched for this call and refused on its first use): then the
  credentials are bad (docs/hubspot.md §3.1). A fresh token HubSpot says has expired
  (`EXPIRED_AUTHENTICATION`) is not bad credentials but one that expired between its fetch and
  its use (a loaded machine, tokens expiring fast): refreshed again, as a retry;
- 429, 423, 477 and 5xx, and failures in transit, are resent while retries remain
  (docs/hubspot.md §1.9, §4), except a `DAILY` 429, which no wait within a call can help;
- a call that is not idempotent (a create) after an answer that does not prove it was not
  carried out (no answer, a 5xx, or a 409 after such an attempt) first looks for what it may
  have made (`recover`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from connector.hubspot.errors import REFUSED_STATUSES, RETRYABLE_STATUSES

Next = Literal["answer", "refresh", "retry", "fail"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt got."""

    status: int | None
    """HubSpot's status; None when no answer came (a timeout, a dropped connection)."""
    reached: bool = True
    """Whether the request may have reached HubSpot (a refused connection did not)."""
    policy: str | None = None
    """A 429's `policyName`."""
    fresh_token: bool = False
    """Whether the token sent was fetched for this call and used here for the first time."""
    expired: bool = False
    """Whether a 401 said the token had expired (`EXPIRED_AUTHENTICATION`), not that it was
    invalid."""


@dataclass(frozen=True, slots=True)
class Decision:
    next: Next
    recover: bool = False
    """Look for what the attempt may have made before doing `next` (creates only)."""
    counted: bool = False
    """A refresh that counts against the retries (a fresh token that expired before its use);
    a refresh of a token that had been used does not."""


def decide(
    attempt: Attempt,
    *,
    number: int,
    max_retries: int,
    idempotent: bool = True,
    ambiguous: bool = False,
    expect: frozenset[int] = frozenset(),
) -> Decision:
    """What to do after attempt `number` (from 1) of a call allowed `max_retries` retries.

    `ambiguous`: an earlier attempt of this call may have been carried out.
    """
    status = attempt.status
    retries_left = number <= max_retries
    if status is None:
        recover = not idempotent and attempt.reached
        return Decision("retry" if retries_left else "fail", recover=recover)
    if status == 401:
        if not attempt.fresh_token:
            return Decision("refresh")
        if attempt.expired and retries_left:
            return Decision("refresh", counted=True)
        return Decision("fail")
    if status in RETRYABLE_STATUSES:
        recover = not idempotent and status not in REFUSED_STATUSES
        daily = status == 429 and attempt.policy == "DAILY"
        return Decision("retry" if retries_left and not daily else "fail", recover=recover)
    if status == 409 and ambiguous and not idempotent:
        return Decision("fail", recover=True)
    if 200 <= status < 300 or status in expect:
        return Decision("answer")
    return Decision("fail")
