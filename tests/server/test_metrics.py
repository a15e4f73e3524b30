"""`/metrics`: what a Prometheus scrape of a real server shows after real operations."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from client.connection import RcsClient
from protocol.errors import (
    ConnectorException,
    InvalidCredentialException,
    RetryableException,
)
from server.app import ConnectorServer
from server.settings import ServerSettings
from tests.conftest import KEY, hosted, memory_configuration, settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(
    server: ConnectorServer, path: str = "/metrics", accept: str | None = None
) -> tuple[int, str, str]:
    """GET as Prometheus does: plain HTTP, no credentials. (status, content type, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    header = f"Accept: {accept}\r\n" if accept else ""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}\r\n".encode())
    response = (await reader.read()).decode()
    writer.close()
    head, _, body = response.partition("\r\n\r\n")
    status = int(head.split(" ", 2)[1])
    headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    return status, headers.get("Content-Type", ""), body


async def samples(server: ConnectorServer) -> Samples:
    status, _, body = await scrape(server)
    assert status == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_after_a_few_operations(rcs: ConnectorServer) -> None:
    async with await RcsClient.connect(rcs.url, KEY) as client:
        memory = await client.facade("memory")
        async with memory.search("contact") as results:
            assert len([o async for o in results]) == 25
        assert await memory.get("contact", "1") is not None
        with pytest.raises(ConnectorException):
            await memory.script_on_connector("fail", "contact")
        found = await samples(rcs)
        assert value(found, "rcs_connections") == 1
        assert value(found, "rcs_pool_instances", configuration="memory", state="idle") == 1
        assert value(found, "rcs_pool_instances", configuration="memory", state="active") == 0
        assert value(found, "rcs_pool_max_instances", configuration="memory") == 10
    with pytest.raises(InvalidCredentialException):
        await RcsClient.connect(rcs.url, "wrong")

    found = await samples(rcs)
    ok = {"operation": "SEARCH", "outcome": "ok"}
    assert value(found, "rcs_operations_total", **ok) == 1
    assert value(found, "rcs_operations_total", operation="GET", outcome="ok") == 1
    assert value(found, "rcs_operations_total", operation="SCRIPT_ON_CONNECTOR", outcome="error")
    assert value(found, "rcs_objects_streamed_total", operation="SEARCH") == 25
    assert value(found, "rcs_objects_streamed_total", operation="GET") == 1
    assert value(found, "rcs_operation_duration_seconds_count", operation="SEARCH") == 1
    assert value(found, "rcs_operation_duration_seconds_bucket", operation="SEARCH", le="+Inf")
    assert value(found, "rcs_operations_in_flight") == 0
    assert value(found, "rcs_connections_opened_total") == 1
    assert value(found, "rcs_upgrades_refused_total", reason="wrong_key") == 1
    assert value(found, "rcs_pool_wait_seconds_count", configuration="memory") == 3
    assert value(found, "rcs_draining") == 0


async def test_running_operations_show_in_flight_and_active(rcs: ConnectorServer) -> None:
    async with await RcsClient.connect(rcs.url, KEY) as client:
        slow = await client.facade("slow")  # blocks every SEARCH until cancelled
        searching = asyncio.create_task(slow.search("contact").__aenter__())
        while not any(c.operations for c in rcs.connections.values()):
            await asyncio.sleep(0.005)
        while not any(p.active for p in rcs.pools):
            await asyncio.sleep(0.005)
        found = await samples(rcs)
        assert value(found, "rcs_operations_in_flight") == 1
        assert value(found, "rcs_pool_instances", configuration="slow", state="active") == 1
        searching.cancel()
    for _ in range(200):
        if not rcs.connections:
            break
        await asyncio.sleep(0.01)
    found = await samples(rcs)
    assert value(found, "rcs_operations_in_flight") == 0
    assert value(found, "rcs_operations_total", operation="SEARCH", outcome="stopped") == 1


async def test_the_scrape_is_prometheus_text_and_needs_no_key(rcs: ConnectorServer) -> None:
    status, content_type, body = await scrape(rcs)
    assert status == 200 and content_type.startswith("text/plain; version=")
    assert "# TYPE rcs_operations_total counter" in body
    assert "# TYPE rcs_operation_duration_seconds histogram" in body
    assert "python_gc" not in body  # the server's own registry, not the process-wide one
    openmetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    status, content_type, body = await scrape(rcs, accept=openmetrics)
    assert status == 200 and content_type.startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")


@pytest.mark.parametrize("server_settings", [settings(metrics_enabled=False)])
async def test_metrics_can_be_turned_off(
    rcs: ConnectorServer, server_settings: ServerSettings
) -> None:
    assert (await scrape(rcs))[0] == 404


@pytest.mark.parametrize("server_settings", [settings(max_frames_per_second=0.001, frame_burst=3)])
async def test_frames_past_the_rate_are_answered_with_an_error(
    rcs: ConnectorServer, server_settings: ServerSettings
) -> None:
    async with await RcsClient.connect(rcs.url, KEY) as client:  # the handshake: frame 1
        assert await client.connectors()
        assert await client.configurations()
        with pytest.raises(RetryableException, match="too many frames"):
            await client.connectors()
        assert len(rcs.connections) == 1  # refused, not disconnected
    found = await samples(rcs)
    assert value(found, "rcs_frames_refused_total") == 1


async def test_an_exhausted_pool_shows_in_its_wait_timeouts(rcs: ConnectorServer) -> None:
    single = memory_configuration(pool={"maxObjects": 1, "maxWait": 50}, blockOn=["SEARCH"])
    rcs.set_configurations({"one": hosted("one", single)})
    async with await RcsClient.connect(rcs.url, KEY) as client:
        one = await client.facade("one")
        searching = asyncio.create_task(one.search("contact").__aenter__())
        while not any(p.active for p in rcs.pools):
            await asyncio.sleep(0.005)
        with pytest.raises(RetryableException, match="maxWait 50 ms"):
            await one.test()
        found = await samples(rcs)
        assert value(found, "rcs_pool_wait_timeouts_total", configuration="one") == 1
        assert value(found, "rcs_pool_instances", configuration="one", state="active") == 1
        searching.cancel()
