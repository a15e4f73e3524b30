"""What the OpenICF 1.5 wire costs beside our JSON wire: one search, both wires, one run.

    python -m bench.openicf            # measure, print, rewrite docs/benchmarks.md's section
    python -m bench.openicf --quick    # smaller runs, nothing written

The server runs in a process of its own (in-memory connector, canonical log lines as JSON to
/dev/null, as `bench.protocol` runs it); the client reads a search of `virtualObjects` (made up
as the search reaches them) through `RcsClient` on each wire in turn, with the same inline
configuration: on JSON it travels in each request, on OpenICF as the facade key IDM sends. For
each wire:

1. objects per second, connector to the client's iterator (median of 3 searches);
2. CPU per object in the server process and in the client;
3. the server's peak RSS growth during those searches. On both wires the client spends more
   per object than the server, so the server's sends wait on the socket all along and only
   back-pressure keeps its memory flat.

OpenICF sends one message per object (docs/openicf-rpc.md §10), JSON up to 100 objects
per frame, so the figures answer: what does IDM's wire cost the server and the client?
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from bench.hubspot_common import machine, write_section
from bench.protocol import PeakRss, search_throughput
from client.connection import RcsClient, Wire
from protocol.configuration import InlineConfiguration

KEY = "bench-key"
SECTION = "openicf"


def _serve(pipe: Connection) -> None:
    asyncio.run(_serve_async(pipe))


async def _serve_async(pipe: Connection) -> None:
    from connector.memory import MemoryConnector
    from connector.registry import ConnectorRegistry
    from server import keyhash, logs
    from server.app import ConnectorServer
    from server.settings import ServerSettings

    with open(os.devnull, "w") as sink:  # noqa: ASYNC230 - once, at start
        logs.configure("info", "json", sink)
        settings = ServerSettings(host="127.0.0.1", port=0, key_hash=keyhash.hash_key(KEY))
        async with ConnectorServer(settings, ConnectorRegistry([MemoryConnector]), {}) as server:
            pipe.send(server.port)
            await asyncio.to_thread(pipe.recv)  # "stop"


def configuration(objects: int) -> InlineConfiguration:
    return InlineConfiguration.model_validate(
        {"configurationProperties": {"virtualObjects": objects, "pageSize": 100}}
    )


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds a process has used (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    wire: str
    rate: float
    rss_mib: float
    server_cpu_us: float
    """Server CPU per object, microseconds."""
    client_cpu_us: float


async def measure(port: int, pid: int, wire: Wire, objects: int) -> Figures:
    from connector.memory import MemoryConnector

    url = f"ws://127.0.0.1:{port}/openicf"
    async with await RcsClient.connect(url, KEY, protocol=wire) as client:
        facade = client.facade_for(MemoryConnector.connector_key, configuration(objects))
        await search_throughput(facade, objects)  # warm up: the pool, caches, both processes
        sampler = PeakRss(pid)
        server_cpu, client_cpu = _cpu_s(pid), time.process_time()
        rates = [(await search_throughput(facade, objects))[0] for _ in range(3)]
        server_cpu, client_cpu = _cpu_s(pid) - server_cpu, time.process_time() - client_cpu
        rss = sampler.stop()
    per_object = 1e6 / (3 * objects)
    return Figures(
        wire,
        statistics.median(rates),
        rss,
        server_cpu * per_object,
        client_cpu * per_object,
    )


def report(json_wire: Figures, openicf: Figures, objects: int, load: float) -> str:
    rows = [
        f"| {f.wire} | **{f.rate:,.0f}** | {f.rate / json_wire.rate:.2f}x | "
        f"{f.server_cpu_us:.0f} µs | {f.client_cpu_us:.0f} µs | {f.rss_mib:.1f} MiB |"
        for f in (json_wire, openicf)
    ]
    return "\n".join(
        [
            "Command: `python -m bench.openicf` (server and client in two processes on "
            "127.0.0.1, in-memory connector, canonical log lines on; the same inline "
            "configuration on both wires, as the facade key on OpenICF).",
            f"Machine: {machine()}; load average {load:.1f} at the end of the run (other work "
            "on the machine slows both wires alike).",
            "",
            f"A search of {objects:,} objects read object by object through `RcsClient`, "
            "each wire in turn in the same run:",
            "",
            "| wire | objects/s (median of 3) | vs JSON | server CPU per object | "
            "client CPU per object | server peak RSS growth |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "OpenICF sends one protobuf message per object, its attributes in the legacy "
            "binary serialization (as the Java server does and IDM expects); JSON sends up to "
            "100 objects a frame. On both wires the client is the slower side (its CPU per "
            "object is the larger), so the server waits on the socket and its memory stays "
            "where it was. Most of the OpenICF client's time goes to decoding "
            "each object's legacy attribute set. The machine is shared: runs of the same "
            "command differ by tens of percent, so compare the ratios, not the absolute "
            "figures.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--quick", action="store_true", help="small runs; write nothing")
    args = options.parse_args(argv)
    objects = 20_000 if args.quick else 100_000

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child,), daemon=True)
    process.start()
    try:
        port = parent.recv()
        assert process.pid is not None
        json_wire = asyncio.run(measure(port, process.pid, "json", objects))
        openicf = asyncio.run(measure(port, process.pid, "openicf", objects))
    finally:
        parent.send("stop")
        process.join(timeout=30)
    text = report(json_wire, openicf, objects, os.getloadavg()[0])
    print(text)
    if not args.quick:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
