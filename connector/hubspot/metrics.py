"""The HubSpot connector's Prometheus metrics: calls, 429s, rate-limiter waits, token refreshes.

The instruments live in the registry the server hands over in `ConnectorContext.metrics`, so they
appear on that server's `/metrics` without the server knowing about HubSpot, and without this
package importing the server (arrows go down: server -> connector -> protocol). Why a registry
rather than an observer interface in the SPI: Prometheus' counters and histograms already are
that interface; a connector-neutral hook would have to re-invent them, and each new number
would need a change to the SPI. Each configuration's series carry its name (`configuration`).

A registry refuses a metric name registered twice, and every configuration of the HubSpot
connector on one server shares the same instruments, so they are made once per registry.
"""

from __future__ import annotations

import weakref
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LIMITER_WAIT_BUCKETS_S: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
"""The ten-second window can hold a call for up to ten seconds (docs/hubspot.md §4)."""
NO_ANSWER: Final = "none"
"""The `status` of a call that got no HTTP answer (a timeout, a dropped connection)."""


class HubspotMetrics:
    """The instruments, registered once in one registry."""

    _by_registry: weakref.WeakKeyDictionary[CollectorRegistry, HubspotMetrics] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "hubspot_requests",
            "Calls to HubSpot's API, by HTTP status of the answer ('none': no answer)",
            ["configuration", "status"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "hubspot_rate_limited",
            "429 answers, by the policyName HubSpot gave (TEN_SECONDLY_ROLLING, SECONDLY, "
            "DAILY; 'unknown' when none)",
            ["configuration", "policy"],
            registry=registry,
        )
        self.retries = Counter(
            "hubspot_retries",
            "Calls sent again, by what went wrong (an HTTP status, or 'transport')",
            ["configuration", "reason"],
            registry=registry,
        )
        self.limiter_wait = Histogram(
            "hubspot_ratelimiter_wait_seconds",
            "Waits the client-side rate limiter imposed before a call, by the limit that held "
            "it (permits, search, window)",
            ["configuration", "limit"],
            buckets=LIMITER_WAIT_BUCKETS_S,
            registry=registry,
        )
        self.token_refreshes = Counter(
            "hubspot_token_refreshes",
            "OAuth access token refreshes, by outcome (ok, failed)",
            ["configuration", "outcome"],
            registry=registry,
        )
        self.refresh_token_unsaved = Gauge(
            "hubspot_refresh_token_unsaved",
            "1 while HubSpot's rotated refresh token is held in memory only (it could not be "
            "stored: the configuration stops working at the next restart); 0 once stored",
            ["configuration"],
            registry=registry,
        )

    @classmethod
    def of(cls, registry: CollectorRegistry | None) -> HubspotMetrics:
        """The instruments in `registry`, made on first use; None: a registry nobody reads."""
        if registry is None:
            return cls(CollectorRegistry())
        metrics = cls._by_registry.get(registry)
        if metrics is None:
            metrics = cls._by_registry[registry] = cls(registry)
        return metrics

    def bind(self, configuration: str) -> ConfigurationMetrics:
        return ConfigurationMetrics(self, configuration)


class ConfigurationMetrics:
    """The instruments with one configuration's label applied: what http.py calls."""

    def __init__(self, metrics: HubspotMetrics, configuration: str) -> None:
        self._m = metrics
        self._configuration = configuration

    def answered(self, status: int | None) -> None:
        label = NO_ANSWER if status is None else str(status)
        self._m.requests.labels(self._configuration, label).inc()

    def refused(self, policy: str | None) -> None:
        self._m.rate_limited.labels(self._configuration, policy or "unknown").inc()

    def retry(self, reason: str) -> None:
        self._m.retries.labels(self._configuration, reason).inc()

    def waited(self, limit: str, seconds: float) -> None:
        self._m.limiter_wait.labels(self._configuration, limit).observe(seconds)

    def refresh_token_unsaved(self, unsaved: bool) -> None:
        self._m.refresh_token_unsaved.labels(self._configuration).set(1 if unsaved else 0)

    def token_refresh(self, ok: bool) -> None:
        self._m.token_refreshes.labels(self._configuration, "ok" if ok else "failed").inc()
