"""Fault injection: latency, and sequences or rates of errors, drops and stalls.

HubSpot's error-handling page lists what a client must survive (docs/hubspot.md §1.9, §9 "Fault
injection"): 429, 423 (locked, wait at least 2 s), 477 (migration, with `Retry-After`), 502, 503,
504 and 521-524, plus the network's own failures: a connection dropped before the request is
carried out (`drop`), and one dropped after it was carried out (`lose_answer`: the write happened,
the client never hears of it). A test programs them per path; the settings
add rates for the whole server (the demo and benchmarks).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from emulator.settings import EmulatorSettings, LatencyDistribution

__all__ = ["FaultAction", "FaultRule", "Faults", "Latency", "Outcome"]

Outcome = int | Literal["drop", "lose", "stall", "ok"] | None
"""What a sequence does to one request; None and "ok" let it through."""


@dataclass(slots=True)
class FaultRule:
    """One programmed fault; it sees every request matching `method` and `path_prefix`.

    It fires on a matching request once `skip` matching requests have gone by, with probability
    `rate`, at most `count` times (None: no limit).
    """

    id: int
    status: int | None = None  # answer with this status
    drop: bool = False  # close the connection without answering
    lose_answer: bool = False  # carry the request out, then close the connection unanswered
    stall_s: float | None = None  # hold the request this long before answering normally
    count: int | None = None
    skip: int = 0
    rate: float = 1.0
    path_prefix: str = ""
    method: str | None = None
    retry_after_s: float | None = None
    seen: int = 0
    fired: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FaultAction:
    """What the server must do to one request."""

    rule_id: int
    status: int | None = None
    drop: bool = False
    lose_answer: bool = False
    stall_s: float | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Latency:
    """Every answer waits `fixed_ms` plus a random part whose mean is `jitter_ms`."""

    fixed_ms: float = 0.0
    jitter_ms: float = 0.0
    distribution: LatencyDistribution = "exponential"


class Faults:
    """The fault program of a running emulator; safe to change from a test while it runs.

    Random draws (rates, latency) come from `random.Random(seed)`, so a run can be replayed.
    """

    def __init__(self, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self.latency = Latency()
        self._next_id = 1
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: EmulatorSettings) -> Faults:
        """The rate-based program the settings describe (CLI flags, demo, benchmarks)."""
        faults = cls(seed=settings.seed)
        faults.set_latency(
            settings.latency_ms, settings.latency_jitter_ms, settings.latency_distribution
        )
        statuses = settings.error_statuses
        if settings.error_rate > 0 and statuses:
            for status in statuses:
                faults.add(status=status, rate=settings.error_rate / len(statuses))
        if settings.drop_rate > 0:
            faults.add(drop=True, rate=settings.drop_rate)
        if settings.lost_answer_rate > 0:
            faults.add(lose_answer=True, rate=settings.lost_answer_rate)
        if settings.stall_rate > 0:
            faults.add(stall_s=settings.stall_s, rate=settings.stall_rate)
        return faults

    def add(
        self,
        *,
        status: int | None = None,
        drop: bool = False,
        lose_answer: bool = False,
        stall_s: float | None = None,
        count: int | None = None,
        skip: int = 0,
        rate: float = 1.0,
        path_prefix: str = "",
        method: str | None = None,
        retry_after_s: float | None = None,
    ) -> FaultRule:
        """Program a fault, e.g. `add(status=429, count=3, path_prefix=".../search")`."""
        if (status is not None) + drop + lose_answer + (stall_s is not None) != 1:
            raise ValueError("a fault needs exactly one of status, drop, lose_answer or stall_s")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            rule = FaultRule(
                id=self._next_id,
                status=status,
                drop=drop,
                lose_answer=lose_answer,
                stall_s=stall_s,
                count=count,
                skip=skip,
                rate=rate,
                path_prefix=path_prefix,
                method=method.upper() if method else None,
                retry_after_s=retry_after_s,
            )
            self._next_id += 1
            self.rules.append(rule)
        return rule

    def add_sequence(
        self,
        outcomes: Sequence[Outcome],
        *,
        path_prefix: str = "",
        method: str | None = None,
        stall_s: float = 60.0,
    ) -> list[FaultRule]:
        """Outcomes for the next matching requests in turn, e.g. `[429, 429, "ok", 503]`;
        `"drop"` closes the connection before the request is carried out, `"lose"` after."""
        rules = []
        for position, outcome in enumerate(outcomes):
            if outcome is None or outcome == "ok":
                continue
            common: dict[str, Any] = {
                "count": 1,
                "skip": position,
                "path_prefix": path_prefix,
                "method": method,
            }
            if outcome == "drop":
                rules.append(self.add(drop=True, **common))
            elif outcome == "lose":
                rules.append(self.add(lose_answer=True, **common))
            elif outcome == "stall":
                rules.append(self.add(stall_s=stall_s, **common))
            elif isinstance(outcome, int):
                rules.append(self.add(status=outcome, **common))
            else:
                raise ValueError(f"unknown outcome {outcome!r}")
        return rules

    def remove(self, rule_ids: Iterable[int]) -> None:
        """Remove rules by id."""
        unwanted = set(rule_ids)
        with self._lock:
            self.rules = [r for r in self.rules if r.id not in unwanted]

    def set_latency(
        self,
        fixed_ms: float,
        jitter_ms: float = 0.0,
        distribution: LatencyDistribution = "exponential",
    ) -> None:
        """Delay every answer by `fixed_ms` plus a random part with mean `jitter_ms`."""
        if fixed_ms < 0 or jitter_ms < 0:
            raise ValueError("latency must not be negative")
        self.latency = Latency(fixed_ms, jitter_ms, distribution)

    def clear(self) -> None:
        """Remove every rule and the latency."""
        with self._lock:
            self.rules = []
        self.latency = Latency()

    def delay_s(self) -> float:
        """Draw one response delay, in seconds."""
        latency = self.latency
        extra = 0.0
        jitter = latency.jitter_ms
        if jitter > 0:
            if latency.distribution == "uniform":
                extra = self._rng.uniform(0, 2 * jitter)
            elif latency.distribution == "exponential":
                extra = self._rng.expovariate(1 / jitter)
            else:  # lognormal with sigma 1 and the given mean
                extra = self._rng.lognormvariate(math.log(jitter) - 0.5, 1.0)
        return (latency.fixed_ms + extra) / 1000

    def pick(self, method: str, path: str) -> FaultAction | None:
        """Count a request against every matching rule; return the first that fires."""
        if not self.rules:
            return None
        chosen: FaultAction | None = None
        with self._lock:
            for rule in self.rules:
                if rule.method is not None and rule.method != method:
                    continue
                if not path.startswith(rule.path_prefix):
                    continue
                rule.seen += 1
                if chosen is not None or rule.seen <= rule.skip:
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                chosen = FaultAction(
                    rule_id=rule.id,
                    status=rule.status,
                    drop=rule.drop,
                    lose_answer=rule.lose_answer,
                    stall_s=rule.stall_s,
                    retry_after_s=rule.retry_after_s,
                )
        return chosen

    def to_json(self) -> dict[str, Any]:
        """The program, as the admin endpoint shows it."""
        return {
            "rules": [r.to_json() for r in self.rules],
            "latency": {
                "fixed_ms": self.latency.fixed_ms,
                "jitter_ms": self.latency.jitter_ms,
                "distribution": self.latency.distribution,
            },
        }
