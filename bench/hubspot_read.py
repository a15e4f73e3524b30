"""Benchmark: a full read of HubSpot contacts, by the connector and by the official SDK.

Run with `python -m bench.hubspot_read` (a few minutes). The emulator runs as a subprocess with
`--contacts` contacts and its rate limits off. In the same run, on the same emulator, with the
same properties asked for:
- the official SDK's `crm.contacts.get_all` (hubspot-api-client, list pages of 100): the ceiling
  a plain client reaches;
- the connector alone: `HubspotConnector.search` with no filter, consumed in-process;
- the connector through the server and the client, when both are installed: a search sent by
  the bundled client over the protocol, as IDM's reconciliation sends it.
Each is run `--rounds` times; the best round counts (the machines are shared and noisy). It
rewrites the `bench:connector-read` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.hubspot_common import (
    configuration_properties,
    connector_for,
    machine,
    running_emulator,
    write_section,
)
from client.connection import RcsClient
from connector.hubspot import HubspotConnector
from connector.hubspot.schema import builtin_catalog
from connector.registry import ConnectorRegistry
from protocol.configuration import InlineConfiguration
from protocol.values import OperationOptions
from server.app import ConnectorServer, HostedConfiguration
from server.keyhash import hash_key
from server.settings import ServerSettings

KEY = "bench-key"

PROPERTIES = list(builtin_catalog("contact").default_properties)
"""What the connector asks for by default: HubSpot's standard contact properties."""

Reader = Callable[[dict[str, Any]], Awaitable[int]]


async def sdk_get_all(info: dict[str, Any]) -> int:
    """The official SDK's own paging (blocking, so in a thread)."""
    from hubspot import HubSpot

    def read() -> int:
        client = HubSpot(
            access_token=info["private_app_token"], host=info["base_url"], base_url=info["base_url"]
        )
        return len(client.crm.contacts.get_all(properties=PROPERTIES))

    return await asyncio.to_thread(read)


async def connector_alone(info: dict[str, Any]) -> int:
    connector = await connector_for(info, permitsPerSecond="100000")
    try:
        count = 0
        async for page in connector.search("contact", None, OperationOptions()):
            count += len(page.objects)
        return count
    finally:
        await connector.shared.aclose()


async def through_server(info: dict[str, Any]) -> int:
    """The connector behind the server, read with the bundled client over the protocol."""
    configuration = InlineConfiguration.model_validate(
        {"configurationProperties": configuration_properties(info, permitsPerSecond="100000")}
    )
    hubspot = HostedConfiguration(
        name="hubspot", connector_ref=HubspotConnector.connector_key, configuration=configuration
    )
    settings = ServerSettings(host="127.0.0.1", port=0, key_hash=hash_key(KEY))
    registry = ConnectorRegistry([HubspotConnector])
    async with (
        ConnectorServer(settings, registry, {"hubspot": hubspot}) as server,
        await RcsClient.connect(server.url, KEY) as client,
    ):
        facade = await client.facade("hubspot")
        count = 0
        async with facade.search("contact") as results:
            async for _ in results:
                count += 1
        return count


async def best_of(
    rounds: int, read: Callable[[], Awaitable[int | None]]
) -> tuple[int, float] | None:
    best: tuple[int, float] | None = None
    for _ in range(rounds):
        started = time.perf_counter()
        count = await read()
        elapsed = time.perf_counter() - started
        if count is None:
            return None
        if best is None or elapsed < best[1]:
            best = (count, elapsed)
    return best


async def measure(contacts: int, rounds: int) -> dict[str, tuple[int, float] | None]:
    flags = ["--no-rate-limits", "--contacts", str(contacts), "--companies", "10", "--seed", "1"]
    async with running_emulator(flags) as info:
        results: dict[str, tuple[int, float] | None] = {}
        results["sdk"] = await best_of(rounds, lambda: sdk_get_all(info))
        results["alone"] = await best_of(rounds, lambda: connector_alone(info))
        results["server"] = await best_of(rounds, lambda: through_server(info))
        return results


def report(results: dict[str, tuple[int, float] | None], contacts: int, rounds: int) -> str:
    labels = {
        "sdk": "official SDK `get_all` (hubspot-api-client 12, pages of 100)",
        "alone": "connector alone (`HubspotConnector.search`, in-process)",
        "server": "connector through server and client (the protocol, as IDM reads)",
    }
    sdk = results["sdk"]
    lines = [
        "Command: `python -m bench.hubspot_read`",
        "",
        f"Machine: {machine()}",
        "",
        f"{contacts:,} contacts, {len(PROPERTIES)} properties each (HubSpot's standard contact "
        f"properties), emulator in its own process with rate limits off; best of {rounds} "
        "rounds. The server and the client run in the benchmark's process, sharing its core.",
        "",
        "| Reader | Objects | Seconds | Objects per second | vs SDK |",
        "|---|---|---|---|---|",
    ]
    for key, label in labels.items():
        figures = results[key]
        if figures is None:
            continue
        count, seconds = figures
        ratio = f"{(sdk[1] / seconds):.2f}x" if sdk else ""
        lines.append(f"| {label} | {count:,} | {seconds:.2f} | {count / seconds:,.0f} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    results = asyncio.run(measure(args.contacts, args.rounds))
    text = report(results, args.contacts, args.rounds)
    print(text)
    if not args.no_write:
        write_section("connector-read", text)


if __name__ == "__main__":
    main()
