"""Benchmark: the HubSpot connector's rate limiting against HubSpot's own limit.

Run with `python -m bench.hubspot_rate` (about a minute). The emulator runs as a subprocess with
HubSpot's free-tier limit, 100 calls per rolling 10 seconds (docs/hubspot.md §4); the connector
runs with `permitsPerSecond` 10 and reads contacts by id from several tasks at once, as an IDM
reconciliation does, for `--seconds`. The figures: calls per second achieved (target: at least
95% of 10) and 429 answers received (target: 0). It rewrites the `bench:connector-rate` section
of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time

from bench.hubspot_common import (
    connector_for,
    machine,
    running_emulator,
    write_section,
)
from protocol.values import OperationOptions, Uid

PERMITS_PER_SECOND = 10
HUBSPOT_LIMIT = 100  # per rolling 10 s


async def measure(seconds: float, workers: int) -> dict[str, float]:
    flags = ["--ten-second-limit", str(HUBSPOT_LIMIT), "--contacts", "500", "--companies", "1"]
    async with running_emulator(flags) as info:
        connector = await connector_for(info, permitsPerSecond=str(PERMITS_PER_SECOND))
        try:
            ids = itertools.cycle(str(i) for i in range(1001, 1501))
            deadline = time.monotonic() + seconds
            options = OperationOptions(attributesToGet=["firstname"])

            async def worker() -> None:
                while time.monotonic() < deadline:
                    await connector.get("contact", Uid(value=next(ids)), options)

            started = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(workers)))
            elapsed = time.monotonic() - started
            answers = connector.http.answers
            calls = sum(answers.values())
            return {
                "seconds": elapsed,
                "calls": calls,
                "per_s": calls / elapsed,
                "refused": answers[429],
                "workers": workers,
            }
        finally:
            await connector.shared.aclose()


def report(figures: dict[str, float], command: str) -> str:
    share = figures["per_s"] / PERMITS_PER_SECOND
    return "\n".join(
        [
            f"Command: `{command}`",
            "",
            f"Machine: {machine()}",
            "",
            f"The emulator allows {HUBSPOT_LIMIT} calls per rolling 10 s (HubSpot's free tier); "
            f"the connector runs with `permitsPerSecond` {PERMITS_PER_SECOND} and "
            f"{int(figures['workers'])} tasks reading contacts by id for "
            f"{figures['seconds']:.0f} s.",
            "",
            "| Figure | Value | Target |",
            "|---|---|---|",
            f"| calls per second | {figures['per_s']:.2f} ({share:.1%} of {PERMITS_PER_SECOND}) "
            f"| at least 95% of {PERMITS_PER_SECOND} |",
            f"| calls made | {int(figures['calls'])} | |",
            f"| 429 answers | {int(figures['refused'])} | 0 |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.seconds, args.workers))
    text = report(figures, "python -m bench.hubspot_rate")
    print(text)
    if not args.no_write:
        write_section("connector-rate", text)


if __name__ == "__main__":
    main()
