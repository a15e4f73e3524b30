"""The long soak (`make soak`, not in CI): mixed load on a served server for `--minutes`
(default 30), its memory and open files sampled as it goes; they must stay flat.

The server runs as `hubspot-rcs serve` in its own process, on a configuration directory of its
own (a temporary one: the in-memory connector with 2,000 objects), in front of a HubSpot
emulator process that answers 2% of calls with faults (429, 503, dropped connections, lost
answers). Load, from this process, all at once:
- clients reading, searching, creating and cancelling on the in-memory connector;
- clients reading HubSpot contacts through an inline configuration (searches and gets);
- sockets opened and closed, frames that are not frames, upgrades with a wrong key (from
  127.0.0.2, which the server throttles).
Every `--sample-s` the server's resident memory (VmRSS) and open descriptors are read from
/proc. The verdict: the median memory of the last third of the run within 15% of that of the
middle third, and open descriptors within 10 of the count after warm-up. It rewrites the
`bench:soak` section of docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from bench.hubspot_common import (
    ROOT,
    configuration_properties,
    machine,
    running_emulator,
    write_section,
)
from client.connection import Facade, RcsClient
from connector.hubspot import HubspotConnector
from connector.memory import MemoryConnector
from protocol.configuration import InlineConfiguration
from protocol.errors import ConnectorException
from protocol.filters import Equals
from server.keyhash import hash_key

KEY = "soak-key-0d3b9c"
DOC = ROOT / "docs" / "reliability.md"
DEFAULT_MINUTES = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample(pid: int) -> tuple[float, int]:
    """(resident MiB, open descriptors) of process `pid`."""
    rss_kib = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kib = int(line.split()[1])
    return rss_kib / 1024, len(os.listdir(f"/proc/{pid}/fd"))


async def until_live(port: int, process: asyncio.subprocess.Process) -> None:
    for _ in range(600):
        if process.returncode is not None:
            raise RuntimeError("the server exited")
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            writer.close()
            if answer.startswith(b"HTTP/1.1 200"):
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


class Load:
    def __init__(self, url: str, hubspot: InlineConfiguration, deadline: float) -> None:
        self.url = url
        self.hubspot = hubspot
        self.deadline = deadline
        self.done: Counter[str] = Counter()
        self.rng = random.Random(7)

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    async def memory_worker(self, number: int) -> None:
        while self.running():
            with contextlib.suppress(ConnectorException):
                async with await RcsClient.connect(self.url, KEY, call_timeout_s=60) as client:
                    memory = await client.facade("memory")
                    for _ in range(200):
                        if not self.running():
                            break
                        await self.memory_step(memory, number)
            self.done["memory connections"] += 1

    async def memory_step(self, memory: Facade, number: int) -> None:
        choice = self.rng.random()
        try:
            if choice < 0.4:
                await memory.get("contact", str(self.rng.randint(1, 2000)))
                self.done["gets"] += 1
            elif choice < 0.6:
                name = f"Last{self.rng.randint(0, 999)}"
                async with memory.search("contact", Equals(attribute="lastname", value=name)) as r:
                    [o async for o in r]
                self.done["searches"] += 1
            elif choice < 0.8:
                async with memory.search("contact", pageSize=50) as results:
                    async for _ in results:
                        break  # left early: a cancel
                self.done["cancelled searches"] += 1
            else:
                name = f"soak-{number}-{self.rng.random()}"
                uid = await memory.create("company", {"__NAME__": [name]})
                await memory.delete("company", uid)  # the data stays the same size
                self.done["creates and deletes"] += 1
        except ConnectorException:
            self.done["errors"] += 1

    async def hubspot_worker(self) -> None:
        while self.running():
            with contextlib.suppress(ConnectorException):
                async with await RcsClient.connect(self.url, KEY, call_timeout_s=120) as client:
                    hubspot = client.facade_for(HubspotConnector.connector_key, self.hubspot)
                    while self.running():
                        try:
                            async with hubspot.search("contact", pageSize=100) as results:
                                [o async for o in results]
                            await hubspot.get("contact", str(1000 + self.rng.randint(1, 500)))
                            self.done["hubspot reads"] += 1
                        except ConnectorException:
                            self.done["hubspot errors"] += 1

    async def abuse_worker(self) -> None:
        while self.running():
            with contextlib.suppress(ConnectorException, OSError):
                async with await RcsClient.connect(self.url, KEY) as client:
                    await client.ws.send("not a frame")
                    await client.connectors()
            with contextlib.suppress(InvalidStatus, OSError):
                async with connect(
                    self.url,
                    additional_headers={"Authorization": "Bearer wrong"},
                    local_addr=("127.0.0.2", 0),
                ):
                    pass
            self.done["abuse rounds"] += 1
            await asyncio.sleep(0.2)


async def soak(minutes: float, sample_s: float) -> dict[str, Any]:
    flags = ["--contacts", "1000", "--companies", "10", "--seed", "3"]
    flags += ["--error-rate", "0.02", "--error-statuses", "429,503", "--drop-rate", "0.005"]
    flags += ["--lost-answer-rate", "0.005"]
    async with running_emulator(flags) as info:
        with tempfile.TemporaryDirectory() as directory:
            conf = Path(directory)
            port = free_port()
            (conf / "ConnectorServer.properties").write_text(
                f"connectorserver.port={port}\nconnectorserver.key={hash_key(KEY)}\n"
                "connectorserver.memoryConnectorEnabled=true\n"
                "connectorserver.logLevel=warning\n"
            )
            memory_ref = MemoryConnector.connector_key.model_dump()
            provisioner = {
                "connectorRef": memory_ref,
                "configurationProperties": {"seed": 2000, "pageSize": 100},
                "poolConfigOption": {"maxObjects": 20, "maxIdle": 10},
            }
            (conf / "provisioner.openicf-memory.json").write_text(json.dumps(provisioner))
            log = (conf / "server.log").open("w")
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "server.cli", "serve", "--conf", str(conf),
                stdout=log, stderr=log,
            )  # fmt: skip
            try:
                await until_live(port, process)
                url = f"ws://127.0.0.1:{port}/openicf"
                hubspot = InlineConfiguration.model_validate(
                    {
                        "configurationProperties": configuration_properties(
                            info, permitsPerSecond="50", maxRetries="8"
                        )
                    }
                )
                deadline = time.monotonic() + minutes * 60
                load = Load(url, hubspot, deadline)
                workers = [
                    *(load.memory_worker(n) for n in range(6)),
                    *(load.hubspot_worker() for _ in range(2)),
                    load.abuse_worker(),
                ]
                started = time.monotonic()
                samples: list[tuple[float, float, int, int]] = []

                async def sampler() -> None:
                    while time.monotonic() < deadline:
                        rss, fds = sample(process.pid)
                        ops = sum(load.done.values())
                        samples.append((time.monotonic() - started, rss, fds, ops))
                        await asyncio.sleep(sample_s)
                    rss, fds = sample(process.pid)
                    samples.append((time.monotonic() - started, rss, fds, sum(load.done.values())))

                await asyncio.gather(sampler(), *workers)
                alive = process.returncode is None
            finally:
                process.terminate()
                await process.wait()
                log.close()
    return {"minutes": minutes, "samples": samples, "done": dict(load.done), "alive": alive}


def _command(minutes: float) -> str:
    if minutes == DEFAULT_MINUTES:
        return "`make soak` (`python -m bench.soak`), the full run"
    flag = f"--minutes {minutes:g}"
    return f"`make soak ARGS='{flag}'` (`python -m bench.soak {flag}`)"


def report(figures: dict[str, Any]) -> str:
    samples = figures["samples"]
    third = max(1, len(samples) // 3)
    # Steady state, not one reading: the median of the middle third against that of the last
    # (a sample can catch a HubSpot page or a search in flight).
    middle = statistics.median(s[1] for s in samples[third : 2 * third] or samples[-1:])
    end = statistics.median(s[1] for s in samples[2 * third :])
    warm = samples[third]
    last = samples[-1]
    rss_growth = (end - middle) / middle
    fd_growth = last[2] - warm[2]
    flat = rss_growth <= 0.15 and abs(fd_growth) <= 10 and figures["alive"]
    lines = [
        f"Command: {_command(figures['minutes'])}",
        "",
        f"Machine: {machine()}",
        "",
        "| minute | server RSS (MiB) | open descriptors | operations done |",
        "|---|---|---|---|",
    ]
    step = max(1, len(samples) // 12)
    shown = list(range(0, len(samples), step))
    if shown[-1] != len(samples) - 1:
        shown.append(len(samples) - 1)
    for at, rss, fds, ops in (samples[i] for i in shown):
        lines.append(f"| {at / 60:.1f} | {rss:.1f} | {fds} | {ops:,} |")
    counted = dict(figures["done"])
    errors = {"memory": counted.pop("errors", 0), "HubSpot": counted.pop("hubspot errors", 0)}
    done = ", ".join(f"{k} {v:,}" for k, v in sorted(counted.items()))
    first = samples[0]
    lines += [
        "",
        f"Done: {done}. Operations that failed: {errors['memory']:,} on the in-memory "
        f"connector, {errors['HubSpot']:,} on HubSpot (whose emulator injects faults).",
        "",
        f"Server memory {first[1]:.1f} MiB and {first[2]} open descriptors at the start, "
        f"{last[1]:.1f} MiB and {last[2]} at the end.",
        "",
        f"Median memory of the middle third of the run {middle:.1f} MiB, of the last third "
        f"{end:.1f} MiB ({rss_growth:+.1%}); the highest sample {max(s[1] for s in samples):.1f} "
        f"MiB; descriptors from {warm[0] / 60:.1f} min to the end {fd_growth:+d}; the server "
        f"{'ran throughout' if figures['alive'] else 'DIED'}. Verdict: "
        f"{'flat' if flat else 'NOT FLAT'}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES)
    parser.add_argument("--sample-s", type=float, default=15.0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    figures = asyncio.run(soak(args.minutes, args.sample_s))
    text = report(figures)
    print(text)
    if not args.no_write:
        write_section("soak", text, DOC)


if __name__ == "__main__":
    main()
