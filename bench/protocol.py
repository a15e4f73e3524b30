"""What the protocol costs: server and client on loopback, with the in-memory connector.

    python -m bench.protocol            # measure, print, rewrite docs/benchmarks.md's section
    python -m bench.protocol --quick    # smaller runs, nothing written

The server runs in a process of its own (as in production: one core for it, one for the
client), logging its canonical lines as JSON to /dev/null, so their cost is counted. Figures:

1. search streaming throughput: objects per second from the connector to the client's
   iterator, for a search of `virtualObjects` (made up as the search reaches them);
2. get round-trip latency, p50 and p99, with 1 and with 64 operations in flight on one socket;
3. peak RSS growth of the server while it streams 1,000,000 objects to a reader that is
   deliberately slower than the server (it pauses after every part), so back-pressure must
   hold the server's memory flat.

Targets on the 2-core development machine: >= 50,000 objects/s; p50 < 1 ms at 1 in flight;
RSS growth < 50 MiB for the million.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import re
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from client.connection import Facade, RcsClient

KEY = "bench-key"
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
MARK = "bench:protocol"


# -- the server process ---------------------------------------------------------------------


def _serve(pipe: Connection, stream: int, million: int) -> None:
    asyncio.run(_serve_async(pipe, stream, million))


async def _serve_async(pipe: Connection, stream: int, million: int) -> None:
    from connector.memory import MemoryConnector
    from connector.registry import ConnectorRegistry
    from protocol.configuration import InlineConfiguration
    from server import keyhash, logs
    from server.app import ConnectorServer, HostedConfiguration
    from server.settings import ServerSettings

    with open(os.devnull, "w") as sink:  # noqa: ASYNC230 - once, at start
        logs.configure("info", "json", sink)
        settings = ServerSettings(
            host="127.0.0.1", port=0, key_hash=keyhash.hash_key(KEY), max_inflight_per_connection=64
        )
        key = MemoryConnector.connector_key
        configurations = {
            name: HostedConfiguration(
                name,
                key,
                InlineConfiguration.model_validate({"configurationProperties": properties}),
            )
            for name, properties in (
                ("gets", {"seed": 1000}),
                ("stream", {"virtualObjects": stream, "pageSize": 100}),
                ("million", {"virtualObjects": million, "pageSize": 100}),
            )
        }
        registry = ConnectorRegistry([MemoryConnector])
        async with ConnectorServer(settings, registry, configurations) as server:
            pipe.send(server.port)
            await asyncio.to_thread(pipe.recv)  # "stop"


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


class PeakRss:
    """Samples a process's RSS every few milliseconds, in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = _rss_kib(pid)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_kib(self.pid))

    def stop(self) -> float:
        """Growth over the baseline, in MiB."""
        self._stop.set()
        self._thread.join()
        return (self.peak - self.baseline) / 1024


# -- measurements ---------------------------------------------------------------------------


async def search_throughput(facade: Facade, objects: int) -> tuple[float, float]:
    """(objects per second, seconds) for one search iterated object by object."""
    started = time.perf_counter()
    count = 0
    async with facade.search("contact") as results:
        async for _ in results:
            count += 1
    elapsed = time.perf_counter() - started
    assert count == objects, count
    return count / elapsed, elapsed


async def get_latencies(facade: Facade, in_flight: int, total: int) -> tuple[float, float, float]:
    """(p50, p99 in milliseconds, gets per second) of `total` gets, `in_flight` at a time."""
    latencies: list[float] = []
    started = time.perf_counter()

    async def worker(offset: int) -> None:
        for i in range(offset, total, in_flight):
            started = time.perf_counter()
            found = await facade.get("contact", str(i % 1000 + 1))
            latencies.append(time.perf_counter() - started)
            assert found is not None

    await asyncio.gather(*(worker(i) for i in range(in_flight)))
    rate = total / (time.perf_counter() - started)
    quantiles = statistics.quantiles(latencies, n=100)
    return quantiles[49] * 1000, quantiles[98] * 1000, rate


async def slow_reader_rss(facade: Facade, objects: int, server_pid: int) -> tuple[float, float]:
    """(server RSS growth in MiB, seconds) while a slow reader takes `objects` objects."""
    sampler = PeakRss(server_pid)
    started = time.perf_counter()
    count = 0
    async with facade.search("contact") as results:
        async for page in results.pages():
            count += len(page)
            await asyncio.sleep(0.002)  # about half the server's pace: its sends must wait
    elapsed = time.perf_counter() - started
    assert count == objects, count
    return sampler.stop(), elapsed


@dataclass
class Figures:
    throughput: float
    throughput_objects: int
    p50_1: float
    p99_1: float
    p50_64: float
    p99_64: float
    rate_1: float
    rate_64: float
    rss_mib: float
    rss_objects: int
    rss_seconds: float


async def measure(port: int, pid: int, *, stream: int, gets: int, million: int) -> Figures:
    url = f"ws://127.0.0.1:{port}/openicf"
    async with await RcsClient.connect(url, KEY) as client:
        gets_facade = await client.facade("gets")
        streams = await client.facade("stream")
        await get_latencies(gets_facade, 1, 500)  # warm up both processes
        rates = [(await search_throughput(streams, stream))[0] for _ in range(3)]
        p50_1, p99_1, rate_1 = await get_latencies(gets_facade, 1, gets)
        p50_64, p99_64, rate_64 = await get_latencies(gets_facade, 64, gets * 4)
        rss, seconds = await slow_reader_rss(await client.facade("million"), million, pid)
    return Figures(
        statistics.median(rates),
        stream,
        p50_1,
        p99_1,
        p50_64,
        p99_64,
        rate_1,
        rate_64,
        rss,
        million,
        seconds,
    )


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def report(f: Figures) -> str:
    def ok(good: bool) -> str:
        return "met" if good else "**missed**"

    return "\n".join(
        [
            "Command: `python -m bench.protocol` (server and client in two processes on "
            "127.0.0.1, in-memory connector, canonical log lines on).",
            f"Machine: {machine()}.",
            "",
            "| measure | figure | target |",
            "|---|---|---|",
            f"| search streaming, connector to client iterator ({f.throughput_objects:,} "
            f"objects, median of 3) | **{f.throughput:,.0f} objects/s** | >= 50,000: "
            f"{ok(f.throughput >= 50_000)} |",
            f"| get round trip, 1 in flight | p50 **{f.p50_1:.3f} ms**, p99 {f.p99_1:.3f} ms "
            f"({f.rate_1:,.0f} gets/s) | p50 < 1 ms: {ok(f.p50_1 < 1)} |",
            f"| get round trip, 64 in flight on one socket | p50 {f.p50_64:.3f} ms, "
            f"p99 {f.p99_64:.3f} ms ({f.rate_64:,.0f} gets/s) | |",
            f"| server peak RSS growth, {f.rss_objects:,} objects to a slow reader "
            f"({f.rss_seconds:.0f} s) | **{f.rss_mib:.1f} MiB** | < 50 MiB: "
            f"{ok(f.rss_mib < 50)} |",
            "",
            "With 64 in flight, latency is queueing: one socket's gets share one server process, "
            "so the rate, not the single round trip, is the figure to compare. The slow reader "
            "pauses 2 ms after each part and so takes "
            f"{f.rss_objects / f.rss_seconds:,.0f} objects/s, well below what the server can "
            "send; the server's sends wait for the socket, the connector waits for the sends, "
            "and the server's memory stays where it was. The machine is shared: runs of the same "
            "command differ by tens of percent.",
        ]
    )


def write_section(text: str) -> None:
    doc = DOC.read_text()
    pattern = re.compile(rf"(<!-- {MARK} -->\n).*?(\n<!-- /{MARK} -->)", re.S)
    DOC.write_text(pattern.sub(lambda m: m.group(1) + text + m.group(2), doc))


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--quick", action="store_true", help="small runs; write nothing")
    args = options.parse_args(argv)
    stream, gets, million = (20_000, 1_000, 100_000) if args.quick else (200_000, 5_000, 1_000_000)

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child, stream, million), daemon=True)
    process.start()
    try:
        port = parent.recv()
        assert process.pid is not None
        figures = asyncio.run(measure(port, process.pid, stream=stream, gets=gets, million=million))
    finally:
        parent.send("stop")
        process.join(timeout=30)
    text = report(figures)
    print(text)
    if not args.quick:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
