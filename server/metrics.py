"""The server's Prometheus metrics, in a registry each `ConnectorServer` owns.

A registry per server, not prometheus_client's global one: two servers in one process (the
tests, an embedding application) each report their own numbers, and `/metrics` shows exactly
what its server did. Connectors register their own instruments in the same registry, handed to
them in `ConnectorContext.metrics` (connector/hubspot/metrics.py); the server never imports a
connector's metrics, and a connector never imports the server.

Counted where the facts are decided, once: operations in the canonical log line's `finally`
(server.connection), refused upgrades in `process_request`, pool waits in the pool's lease.
Sizes that already exist as state (open connections, pool instances) are read at scrape time by
a collector instead of being mirrored in gauges that could drift.

Names follow Prometheus' conventions (prometheus.io/docs/practices/naming): a `rcs_` prefix,
base units (seconds), `_total` on counters. docs/operations.md lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from server.pool import ConnectorPool

OPERATION_BUCKETS_S: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
"""A get answers in milliseconds, a full read of 100,000 contacts in minutes (benchmarks.md)."""
POOL_WAIT_BUCKETS_S: Final = (0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30)


class ServerMetrics:
    """The instruments of one server, and the registry `/metrics` renders."""

    def __init__(
        self,
        *,
        connections: Callable[[], int],
        pools: Callable[[], Iterable[ConnectorPool]],
        draining: Callable[[], bool],
    ) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.operations = Counter(
            "rcs_operations",
            "Operations finished, by operation and outcome (ok, error, timeout, cancelled, "
            "stopped, disconnected)",
            ["operation", "outcome"],
            registry=r,
        )
        self.operation_seconds = Histogram(
            "rcs_operation_duration_seconds",
            "Time from an operation's frame to its last answer frame",
            ["operation"],
            buckets=OPERATION_BUCKETS_S,
            registry=r,
        )
        self.objects = Counter(
            "rcs_objects_streamed",
            "Connector objects (or sync deltas) sent to peers",
            ["operation"],
            registry=r,
        )
        self.in_flight = Gauge(
            "rcs_operations_in_flight", "Operations running now, on all connections", registry=r
        )
        self.refused_operations = Counter(
            "rcs_operations_refused",
            "Operations answered with an error before they ran (draining, in-flight limit)",
            ["reason"],
            registry=r,
        )
        self.refused_frames = Counter(
            "rcs_frames_refused",
            "Frames answered with an error because their connection sent too many too fast",
            registry=r,
        )
        self.connections_cut_off = Counter(
            "rcs_connections_cut_off",
            "Connections closed because their peer sent frames and did not read the answers",
            registry=r,
        )
        self.connections_opened = Counter(
            "rcs_connections_opened", "Authenticated WebSocket connections accepted", registry=r
        )
        self.upgrades_refused = Counter(
            "rcs_upgrades_refused",
            "WebSocket upgrades refused (unauthenticated, no_client_certificate, wrong_key, "
            "throttled, max_connections, draining, origin)",
            ["reason"],
            registry=r,
        )
        self.pool_wait_seconds = Histogram(
            "rcs_pool_wait_seconds",
            "Time an operation waited for a free connector instance",
            ["configuration"],
            buckets=POOL_WAIT_BUCKETS_S,
            registry=r,
        )
        self.pool_exhausted = Counter(
            "rcs_pool_wait_timeouts",
            "Operations refused because no instance became free within maxWait",
            ["configuration"],
            registry=r,
        )
        r.register(_StateCollector(connections, pools, draining))

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the exposition format the scraper asked for, and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class _StateCollector(Collector):
    """What the server holds right now, read when scraped."""

    def __init__(
        self,
        connections: Callable[[], int],
        pools: Callable[[], Iterable[ConnectorPool]],
        draining: Callable[[], bool],
    ) -> None:
        self._connections = connections
        self._pools = pools
        self._draining = draining

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "rcs_connections", "Open WebSocket connections", value=self._connections()
        )
        yield GaugeMetricFamily(
            "rcs_draining", "1 while the server drains (SIGTERM), else 0", value=self._draining()
        )
        instances = GaugeMetricFamily(
            "rcs_pool_instances",
            "Connector instances per pool: lent to an operation (active) or waiting (idle)",
            labels=["configuration", "state"],
        )
        limit = GaugeMetricFamily(
            "rcs_pool_max_instances",
            "The pool's maxObjects: active instances never exceed it",
            labels=["configuration"],
        )
        for pool in self._pools():
            name = pool.key.configuration_name
            instances.add_metric([name, "active"], pool.active)
            instances.add_metric([name, "idle"], pool.idle)
            limit.add_metric([name], pool.config.maxObjects)
        yield instances
        yield limit
