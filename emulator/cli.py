"""`hubspot-rcs-emulator`: serve a seeded HubSpot emulator until interrupted.

It prints its base URL, the admin URL and the OAuth credentials to use; `--ready-file` writes
the same as JSON once it listens, for scripts that start it as a subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from emulator.runner import load_data, run_emulator
from emulator.settings import EmulatorSettings
from emulator.store import Store

__all__ = ["build_parser", "main", "settings_from_args"]


def _version() -> str:
    try:
        return importlib.metadata.version("hubspot-rcs")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hubspot-rcs-emulator",
        description="A HubSpot API emulator (CRM contacts and companies, properties, "
        "associations, OAuth, rate limits, fault injection). It prints its URL and the OAuth "
        "credentials to use, and serves until Ctrl-C.",
        epilog="Example: hubspot-rcs-emulator --port 0 --contacts 10000 --companies 100",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    listen = parser.add_argument_group("listener")
    listen.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    listen.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port to listen on; 0 picks a free one (default 8080)",
    )
    listen.add_argument(
        "--admin-port",
        type=int,
        default=0,
        help="port of the admin API, on 127.0.0.1 only; 0 picks a free one (default 0)",
    )
    listen.add_argument(
        "--tls", action="store_true", help="serve HTTPS (default: HTTP; on with --tls-cert)"
    )
    listen.add_argument(
        "--tls-cert",
        type=Path,
        help="the certificate, PEM, e.g. tls/server.pem (default: a self-signed one with --tls)",
    )
    listen.add_argument(
        "--tls-key",
        type=Path,
        help="the certificate's private key, PEM, e.g. tls/server-key.pem (default: none)",
    )
    listen.add_argument(
        "--ready-file",
        type=Path,
        help="once listening, write the URLs and credentials there as JSON (default: none)",
    )

    data = parser.add_argument_group("data")
    data.add_argument("--contacts", type=int, default=0, help="contacts to generate (default 0)")
    data.add_argument("--companies", type=int, default=0, help="companies to generate (default 0)")
    data.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the generator: the same seed, the same data (default 0)",
    )
    data.add_argument(
        "--custom-properties",
        type=int,
        default=0,
        help="custom properties to add to each object type (default 0)",
    )
    data.add_argument(
        "--data-file",
        type=Path,
        help="load the objects from this JSON lines file instead of generating (default: none)",
    )
    data.add_argument(
        "--save-data",
        type=Path,
        help="write the generated objects to this JSON lines file and exit (default: none)",
    )

    auth = parser.add_argument_group("OAuth")
    auth.add_argument("--client-id", help="the app's client id (default: made up, printed)")
    auth.add_argument("--client-secret", help="the app's client secret (default: made up, printed)")
    auth.add_argument(
        "--refresh-token", help="the refresh token it accepts (default: made up, printed)"
    )
    auth.add_argument(
        "--private-app-token",
        help="a static bearer token it accepts (default: made up, printed)",
    )
    auth.add_argument(
        "--token-ttl-s",
        type=float,
        default=1800.0,
        help="seconds an access token lives (default 1800, as HubSpot)",
    )
    auth.add_argument(
        "--rotate-refresh-tokens",
        action="store_true",
        help="issue a new refresh token at each refresh (default: keep it, as HubSpot)",
    )

    limits = parser.add_argument_group("rate limits")
    limits.add_argument(
        "--no-rate-limits", action="store_true", help="answer without limits (default: limited)"
    )
    limits.add_argument(
        "--ten-second-limit",
        type=int,
        default=100,
        help="requests per rolling ten seconds per app (default 100)",
    )
    limits.add_argument(
        "--search-per-second-limit",
        type=int,
        default=5,
        help="search requests per second (default 5)",
    )
    limits.add_argument(
        "--daily-limit", type=int, default=250_000, help="requests per day (default 250000)"
    )
    limits.add_argument(
        "--retry-after",
        action="store_true",
        help="send Retry-After on 429 (default: not, as HubSpot's CRM API)",
    )
    limits.add_argument(
        "--indexing-delay-s",
        type=float,
        default=0.0,
        help="seconds before a write is found by search (default 0)",
    )

    faults = parser.add_argument_group("fault injection")
    faults.add_argument(
        "--latency-ms", type=float, default=0.0, help="added to every answer (default 0)"
    )
    faults.add_argument(
        "--latency-jitter-ms",
        type=float,
        default=0.0,
        help="spread of that latency (default 0)",
    )
    faults.add_argument(
        "--latency-distribution",
        choices=("uniform", "exponential", "lognormal"),
        default="exponential",
        help="shape of the jitter (default exponential)",
    )
    faults.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        help="fraction of requests answered with one of --error-statuses, e.g. 0.05 (default 0)",
    )
    faults.add_argument(
        "--error-statuses",
        default="429,502,503,504",
        help="comma-separated, e.g. 429,423,503 (default 429,502,503,504)",
    )
    faults.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        help="fraction of requests whose connection is closed without an answer (default 0)",
    )
    faults.add_argument(
        "--stall-rate",
        type=float,
        default=0.0,
        help="fraction of requests answered only after --stall-s (default 0)",
    )
    faults.add_argument(
        "--stall-s", type=float, default=60.0, help="how long a stalled answer waits (default 60)"
    )
    faults.add_argument(
        "--lost-answer-rate",
        type=float,
        default=0.0,
        help="fraction of requests carried out whose answer is never sent, e.g. 0.01 (default 0)",
    )

    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other emulator setting (docs/emulator.md lists them), repeatable; the value "
        "is JSON or text, e.g. --set max_filters_total=25 (default: none)",
    )
    return parser


def settings_from_args(args: argparse.Namespace) -> EmulatorSettings:
    """EmulatorSettings from parsed flags; `--set` wins over the named flags."""
    values: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "admin_port": args.admin_port,
        "tls": args.tls or bool(args.tls_cert),
        "tls_cert_file": args.tls_cert,
        "tls_key_file": args.tls_key,
        "contacts": args.contacts,
        "companies": args.companies,
        "seed": args.seed,
        "custom_properties": args.custom_properties,
        "data_file": args.data_file,
        "client_id": args.client_id,
        "client_secret": args.client_secret,
        "refresh_token": args.refresh_token,
        "private_app_token": args.private_app_token,
        "token_ttl_s": args.token_ttl_s,
        "rotate_refresh_tokens": args.rotate_refresh_tokens,
        "rate_limits_enabled": not args.no_rate_limits,
        "ten_second_limit": args.ten_second_limit,
        "search_per_second_limit": args.search_per_second_limit,
        "daily_limit": args.daily_limit,
        "retry_after_on_429": args.retry_after,
        "indexing_delay_s": args.indexing_delay_s,
        "latency_ms": args.latency_ms,
        "latency_jitter_ms": args.latency_jitter_ms,
        "latency_distribution": args.latency_distribution,
        "error_rate": args.error_rate,
        "error_statuses": tuple(int(s) for s in args.error_statuses.split(",") if s.strip()),
        "drop_rate": args.drop_rate,
        "lost_answer_rate": args.lost_answer_rate,
        "stall_rate": args.stall_rate,
        "stall_s": args.stall_s,
    }
    for item in args.set:
        name, _, raw = item.partition("=")
        try:
            values[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[name.strip()] = raw
    return EmulatorSettings(**values)


async def _serve(settings: EmulatorSettings, ready_file: Path | None) -> None:
    started = time.perf_counter()
    store = Store(settings)
    load_data(store, settings)
    loaded_s = time.perf_counter() - started
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with run_emulator(settings, store=store) as emu:
        info = {
            "base_url": emu.base_url,
            "admin_url": emu.admin_url,
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
            "refresh_token": emu.refresh_token,
            "private_app_token": emu.private_app_token,
            "tls_cert_file": str(emu.tls_cert_file) if emu.tls_cert_file else None,
            "contacts": len(store.contacts),
            "companies": len(store.companies),
        }
        if ready_file is not None:
            await asyncio.to_thread(ready_file.write_text, json.dumps(info, indent=2) + "\n")
        print(f"HubSpot emulator listening on {emu.base_url}")
        print(f"  admin API          {emu.admin_url} (127.0.0.1 only)")
        print(f"  client id          {emu.client_id}")
        print(f"  client secret      {emu.client_secret}")
        print(f"  refresh token      {emu.refresh_token}")
        print(f"  private app token  {emu.private_app_token}")
        if emu.tls_cert_file:
            print(f"  TLS certificate    {emu.tls_cert_file}")
        print(
            f"  data               {info['contacts']} contacts, {info['companies']} companies "
            f"(ready in {loaded_s:.1f} s)"
        )
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValidationError as error:
        print(f"hubspot-rcs-emulator: invalid settings:\n{error}", file=sys.stderr)
        return 2
    if args.save_data is not None:
        store = Store(settings)
        load_data(store, settings)
        lines = store.save_jsonl(args.save_data)
        print(f"wrote {lines} lines to {args.save_data}")
        return 0
    try:
        asyncio.run(_serve(settings, args.ready_file))
    except OSError as error:
        print(f"hubspot-rcs-emulator: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
