"""Benchmark of the HubSpot emulator: list-paging throughput, search paging, and memory.

Run with `python -m bench.emulator` (about a minute). It starts the emulator as a subprocess, the
way the server's benchmarks do, pages through every contact with one client, then measures a
million contacts in a fresh interpreter, and rewrites the `bench:emulator` section of
docs/benchmarks.md. The emulator must not be the bottleneck of the server's benchmarks: the
target is 20,000 contacts/s through list paging on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:emulator -->", "<!-- /bench:emulator -->"
TARGET_PER_S = 20_000

# Measured in a child interpreter so that the figure is the store's alone.
MEMORY_PROBE = """
import json, sys, tempfile, time
from pathlib import Path
from emulator import EmulatorSettings, Store, generate

def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
    return 0

contacts, companies = int(sys.argv[1]), int(sys.argv[2])
base = rss()
started = time.perf_counter()
store = Store(EmulatorSettings())
generate(store, contacts=contacts, companies=companies, seed=1)
generated_s = time.perf_counter() - started
held = rss() - base
with tempfile.TemporaryDirectory() as directory:
    path = Path(directory) / "data.jsonl"
    started = time.perf_counter()
    lines = store.save_jsonl(path)
    saved_s = time.perf_counter() - started
    size = path.stat().st_size
    del store
    again = Store(EmulatorSettings())
    started = time.perf_counter()
    again.load_jsonl(path)
    loaded_s = time.perf_counter() - started
print(json.dumps({"generated_s": generated_s, "rss_bytes": held, "saved_s": saved_s,
                  "loaded_s": loaded_s, "file_bytes": size, "lines": lines}))
"""


@dataclass
class PagingResult:
    name: str
    contacts: int
    requests: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.contacts / self.seconds


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def _is_ready(ready: Path) -> bool:
    return ready.exists() and ready.stat().st_size > 0


async def _start(contacts: int, companies: int, ready: Path) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulator.cli",
        "--port",
        "0",
        "--contacts",
        str(contacts),
        "--companies",
        str(companies),
        "--no-rate-limits",
        "--ready-file",
        str(ready),
        stdout=asyncio.subprocess.DEVNULL,
    )
    for _ in range(1200):
        if _is_ready(ready):
            return process
        await asyncio.sleep(0.05)
    process.kill()
    raise RuntimeError("the emulator did not start")


async def _page_all(
    session: aiohttp.ClientSession, base_url: str, token: str, name: str, params: dict[str, str]
) -> PagingResult:
    headers = {"Authorization": f"Bearer {token}"}
    count = requests = 0
    after: str | None = None
    started = time.perf_counter()
    while True:
        query = {"limit": "100", **params}
        if after:
            query["after"] = after
        async with session.get(
            base_url + "/crm/v3/objects/contacts", params=query, headers=headers
        ) as response:
            body = await response.json()
        requests += 1
        count += len(body["results"])
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    return PagingResult(name, count, requests, time.perf_counter() - started)


async def _search_pages(
    session: aiohttp.ClientSession, base_url: str, token: str, candidates: int
) -> PagingResult:
    """Search paging up to the 10,000 cap, with a filter that matches every contact."""
    headers = {"Authorization": f"Bearer {token}"}
    count = requests = 0
    after = 0
    started = time.perf_counter()
    while after + 200 <= 10_000:
        body: dict[str, Any] = {
            "filterGroups": [
                {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": 0}]}
            ],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "limit": 200,
            "after": after,
        }
        async with session.post(
            base_url + "/crm/v3/objects/contacts/search", json=body, headers=headers
        ) as response:
            page = await response.json()
        requests += 1
        count += len(page["results"])
        after += 200
    name = f"search to the 10,000 cap: 200 a page, filtered and sorted over {candidates:,}"
    return PagingResult(name, count, requests, time.perf_counter() - started)


async def _fresh_searches(
    session: aiohttp.ClientSession, base_url: str, token: str, candidates: int
) -> PagingResult:
    """First pages of distinct queries: each one filters and sorts every candidate."""
    headers = {"Authorization": f"Bearer {token}"}
    count = 0
    queries = 20
    started = time.perf_counter()
    for n in range(queries):
        body: dict[str, Any] = {
            "filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": n}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
            "limit": 200,
        }
        async with session.post(
            base_url + "/crm/v3/objects/contacts/search", json=body, headers=headers
        ) as response:
            count += len((await response.json())["results"])
    name = f"search, first pages of {queries} distinct queries over {candidates:,}"
    return PagingResult(name, count, queries, time.perf_counter() - started)


async def _throughput(contacts: int, companies: int) -> list[PagingResult]:
    with tempfile.TemporaryDirectory() as directory:
        ready = Path(directory) / "ready.json"
        process = await _start(contacts, companies, ready)
        try:
            info = json.loads(ready.read_text())
            base_url, token = info["base_url"], info["private_app_token"]
            results = []
            async with aiohttp.ClientSession() as session:
                await _page_all(session, base_url, token, "warm-up", {})
                results.append(await _page_all(session, base_url, token, "default properties", {}))
                results.append(
                    await _page_all(
                        session,
                        base_url,
                        token,
                        "12 properties",
                        {
                            "properties": "email,firstname,lastname,phone,company,jobtitle,"
                            "city,state,country,lifecyclestage,hs_lead_status,"
                            "associatedcompanyid"
                        },
                    )
                )
                results.append(
                    await _page_all(
                        session,
                        base_url,
                        token,
                        "default properties + associations=companies",
                        {"associations": "companies"},
                    )
                )
                results.append(await _search_pages(session, base_url, token, contacts))
                results.append(await _fresh_searches(session, base_url, token, contacts))
            return results
        finally:
            process.terminate()
            await process.wait()


def _memory(contacts: int, companies: int) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(contacts), str(companies)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _report(paging: list[PagingResult], memory: dict[str, Any], contacts: int, million: int) -> str:
    lines = [
        "Command: `python -m bench.emulator` (the emulator runs as a subprocess with "
        "`--no-rate-limits`; one aiohttp client on the same machine pages through it).",
        "",
        f"Machine: {_machine()}. Measured {time.strftime('%Y-%m-%d', time.gmtime())}.",
        "",
        f"Paging through {contacts:,} generated contacts, 100 a page (target: "
        f"{TARGET_PER_S:,} contacts/s):",
        "",
        "| what | contacts | requests | seconds | ms/request | contacts/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for result in paging:
        lines.append(
            f"| {result.name} | {result.contacts:,} | {result.requests:,} | "
            f"{result.seconds:.2f} | {1000 * result.seconds / result.requests:.1f} | "
            f"{result.per_s:,.0f} |"
        )
    lines += [
        "",
        "Search keeps the matched and sorted list of a query until the table changes, so only "
        "the first page of a query scans every contact; the last row is that cost.",
    ]
    lines += [
        "",
        f"Holding {million:,} contacts ({million // 100:,} companies, one primary association "
        "for 90% of the contacts), measured in a fresh interpreter (target: well under a "
        "minute to load, at most 2 GiB):",
        "",
        "| what | figure |",
        "|---|---:|",
        f"| generate (seeded) | {memory['generated_s']:.1f} s |",
        f"| memory held (RSS growth) | {memory['rss_bytes'] / 2**30:.2f} GiB |",
        f"| save as JSON lines | {memory['saved_s']:.1f} s, "
        f"{memory['file_bytes'] / 2**20:,.0f} MiB |",
        f"| load from JSON lines | {memory['loaded_s']:.1f} s |",
    ]
    return "\n".join(lines)


def _write(section: str) -> None:
    text = DOC.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    DOC.write_text(pattern.sub(lambda _: f"{BEGIN}\n{section}\n{END}", text, count=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    paging = asyncio.run(_throughput(args.contacts, args.contacts // 100))
    memory = _memory(args.million, args.million // 100)
    section = _report(paging, memory, args.contacts, args.million)
    print(section)
    if not args.no_write:
        _write(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
