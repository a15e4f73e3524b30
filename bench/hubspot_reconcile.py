"""Benchmark: an IDM-style reconciliation at HubSpot's real rate limit, by the connector through
the server and by the official SDK one call per object.

Run with `python -m bench.hubspot_reconcile` (about three minutes). The emulator allows 190
calls per rolling 10 s (HubSpot's Professional tier, docs/hubspot.md §4) and 5 searches a
second. Emulator, server and client each run in their own process:

- the connector (`permitsPerSecond` 19) behind `hubspot-rcs serve`, driven by a client process
  doing what IDM's reconciliation does: an id-only search, then 10 concurrent readers getting
  each object, then updates to 10% of them. The server coalesces the concurrent reads and
  updates into batch calls (connector/hubspot/coalesce.py);
- the same reconciliation with the official SDK (`hubspot-api-client`), one call per object
  from 10 threads paced just under 19 calls a second (faster only earns 429s). It runs on
  `--sdk-contacts` contacts (a tenth, by default: at one call per object the full run takes
  over ten minutes) and its time is scaled to the full count, which is linear at a fixed rate;
- where a reconciliation could be served better still: the id-only search and the reads
  replaced by one search returning the objects (what a server-side cache filled by the search
  would serve), measured the same way.

Calls are counted by the emulator (its request log), by phase. It rewrites the
`bench:connector-reconcile` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

import aiohttp

from bench.hubspot_common import machine, running_emulator, write_section
from bench.processes import run_python, running_server

HUBSPOT_LIMIT = 190  # per rolling 10 s
PERMITS_PER_SECOND = 19
READERS = 10
UPDATE_SHARE = 10  # one object in ten is updated
CONTACTS = "/crm/v3/objects/contacts"


def emulator_flags(contacts: int) -> list[str]:
    return [
        "--ten-second-limit", str(HUBSPOT_LIMIT), "--contacts", str(contacts),
        "--companies", "1", "--seed", "7",
    ]  # fmt: skip


async def emulator_requests(info: dict[str, Any]) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(info["admin_url"] + "/requests", params={"limit": "1000000"}) as resp,
    ):
        records: list[dict[str, Any]] = await resp.json()
        return records


def classify(records: list[dict[str, Any]]) -> Counter[str]:
    """HubSpot calls by phase (list/search, read, update), and the 429s."""
    calls: Counter[str] = Counter()
    for r in records:
        path, method = r["path"], r["method"]
        if not path.startswith(CONTACTS):
            continue
        if r["status"] == 429:
            calls["429"] += 1
        if path == CONTACTS or path.endswith("/search"):
            calls["list"] += 1
        elif path.endswith("/batch/read") or method == "GET":
            calls["read"] += 1
        elif path.endswith("/batch/update") or method == "PATCH":
            calls["update"] += 1
    return calls


def phases(
    objects: int, started: float, searched: float, read: float, done: float
) -> dict[str, Any]:
    """A run's figures: objects read, and the seconds of each phase."""
    return {
        "objects": objects,
        "search_s": searched - started,
        "read_s": read - searched,
        "update_s": done - read,
    }


# -- the client process ----------------------------------------------------------------------


async def client_side(url: str, mode: str) -> dict[str, Any]:
    """IDM's reconciliation through the bundled client (runs in its own process)."""
    from client.connection import RcsClient

    async with await RcsClient.connect(url, os.environ["RCS_KEY"]) as client:
        facade = await client.facade("hubspot")
        await facade.test()
        started = time.perf_counter()
        if mode == "search":
            async with facade.search("contact") as results:
                read = [o async for o in results]
            done = time.perf_counter()
            return {"objects": len(read), "search_s": done - started, "read_s": 0.0,
                    "update_s": 0.0}  # fmt: skip
        async with facade.search("contact", attributesToGet=[]) as results:
            ids = [o.uid.value async for o in results]
        searched = time.perf_counter()
        pending = iter(ids)
        got = 0

        async def reader() -> None:
            nonlocal got
            for id_ in pending:
                if await facade.get("contact", id_) is not None:
                    got += 1

        await asyncio.gather(*(reader() for _ in range(READERS)))
        read_done = time.perf_counter()
        updates = iter(ids[::UPDATE_SHARE])

        async def updater() -> None:
            for id_ in updates:
                await facade.update("contact", id_, {"firstname": ["Reconciled"]})

        await asyncio.gather(*(updater() for _ in range(READERS)))
        return phases(got, started, searched, read_done, time.perf_counter())


# -- the SDK, one call per object ------------------------------------------------------------


class Pace:
    """At most `rate` calls a second from any number of threads."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next)
            self.next = at + self.interval
        time.sleep(max(0.0, at - now))


def sdk_reconcile(info: dict[str, Any]) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    from hubspot import HubSpot
    from hubspot.crm.contacts import SimplePublicObjectInput
    from urllib3.util.retry import Retry

    retry = Retry(total=5, backoff_factor=0.5, status_forcelist=(429,), allowed_methods=None)
    client = HubSpot(
        access_token=info["private_app_token"],
        host=info["base_url"],
        base_url=info["base_url"],
        retry=retry,
    )
    api = client.crm.contacts.basic_api
    pace = Pace(PERMITS_PER_SECOND * 0.95)  # a little under HubSpot's window, as ours keeps
    started = time.perf_counter()
    ids: list[str] = []
    after = None
    while True:
        pace.wait()
        page = api.get_page(limit=100, after=after, properties=["email"], archived=False)
        ids += [o.id for o in page.results]
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after
    searched = time.perf_counter()

    def get(id_: str) -> bool:
        pace.wait()
        return api.get_by_id(id_) is not None

    def update(id_: str) -> None:
        pace.wait()
        api.update(id_, simple_public_object_input=SimplePublicObjectInput(
            properties={"firstname": "Reconciled"}))  # fmt: skip

    with ThreadPoolExecutor(READERS) as pool:
        got = sum(pool.map(get, ids))
        read_done = time.perf_counter()
        list(pool.map(update, ids[::UPDATE_SHARE]))
    return phases(got, started, searched, read_done, time.perf_counter())


# -- orchestration ---------------------------------------------------------------------------


async def connector_run(contacts: int, mode: str) -> dict[str, Any]:
    async with running_emulator(emulator_flags(contacts)) as info:
        async with running_server(info, permitsPerSecond=str(PERMITS_PER_SECOND)) as server:
            figures = await run_python(
                "bench.hubspot_reconcile", "--client", server.url, "--mode", mode
            )
        figures["calls"] = classify(await emulator_requests(info))
        return figures


async def sdk_run(contacts: int) -> dict[str, Any]:
    async with running_emulator(emulator_flags(contacts)) as info:
        figures = await asyncio.to_thread(sdk_reconcile, info)
        figures["calls"] = classify(await emulator_requests(info))
        return figures


def total(figures: dict[str, Any]) -> float:
    return float(figures["search_s"] + figures["read_s"] + figures["update_s"])


def report(results: dict[str, dict[str, Any]], contacts: int, sdk_contacts: int) -> str:
    connector, sdk, search = results["connector"], results["sdk"], results["search"]
    scale = contacts / sdk_contacts
    sdk_wall = total(sdk) * scale
    rows = []
    for label, figures, factor in (
        ("connector through server (coalescing)", connector, 1.0),
        (f"official SDK, one call per object (measured on {sdk_contacts:,}, scaled)", sdk, scale),
    ):
        calls = figures["calls"]
        rows.append(
            f"| {label} | {calls['read'] / figures['objects']:.3f} | "
            f"{(calls['list'] + calls['read'] + calls['update']) * factor:,.0f} | "
            f"{figures['search_s'] * factor:.1f} / {figures['read_s'] * factor:.1f} / "
            f"{figures['update_s'] * factor:.1f} | {total(figures) * factor:.1f} | "
            f"{sdk_wall / (total(figures) * factor):.1f}x | {calls['429']} |"
        )
    return "\n".join(
        [
            "Command: `python -m bench.hubspot_reconcile`",
            "",
            f"Machine: {machine()}",
            "",
            f"{contacts:,} contacts; the emulator allows {HUBSPOT_LIMIT} calls per rolling 10 s "
            f"and 5 searches a second; the connector runs with `permitsPerSecond` "
            f"{PERMITS_PER_SECOND}. Emulator, server and client are separate processes. The "
            f"reconciliation: an id-only search, {READERS} concurrent readers getting each "
            f"object, then updates to one object in {UPDATE_SHARE}.",
            "",
            "| Reconciler | HubSpot calls per object read | HubSpot calls | "
            "Seconds: search / reads / updates | Seconds in all | vs one call per object "
            "| 429 answers |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Targets: at most 0.12 calls per object read, at least 8x faster than one call per "
            "object, no 429.",
            "",
            f"Served better still: one search returning the objects read all {search['objects']:,}"
            f" in {search['search_s']:.1f} s ({search['calls']['list']} calls, "
            f"{(search['calls']['list']) / max(1, search['objects']):.3f} per object), against "
            f"{connector['search_s'] + connector['read_s']:.1f} s for the id-only search and "
            "the reads. A server that kept the search's objects to answer the reads that follow "
            "would save the read calls, at a cost in freshness: a read would answer what HubSpot "
            "held when the search passed the object, up to the whole search's duration earlier "
            f"(here {search['search_s']:.0f} s), instead of what it holds when IDM asks.",
        ]
    )


async def measure(contacts: int, sdk_contacts: int) -> dict[str, dict[str, Any]]:
    return {
        "connector": await connector_run(contacts, "reconcile"),
        "search": await connector_run(contacts, "search"),
        "sdk": await sdk_run(sdk_contacts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=12_000)
    parser.add_argument("--sdk-contacts", type=int, default=1_200)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="reconcile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(client_side(args.client, args.mode))))
        sys.stdout.flush()
        return
    results = asyncio.run(measure(args.contacts, args.sdk_contacts))
    text = report(results, args.contacts, args.sdk_contacts)
    print(text)
    if not args.no_write:
        write_section("connector-reconcile", text)


if __name__ == "__main__":
    main()
