"""The SIGHUP reload: its task is kept, and two reloads never run at once. The daemon of
`hubspot-rcs serve` on a real conf directory of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from structlog.testing import capture_logs

from server.cli import _Daemon
from server.conf import RegistryLookup, load_conf
from tests.conftest import registry
from tests.server.test_cli import write_conf


async def test_reloads_asked_for_together_run_one_after_the_other(tmp_path: Path) -> None:
    write_conf(tmp_path, seed=3)
    loaded = load_conf(tmp_path, confidential=RegistryLookup(registry()))
    daemon = _Daemon(loaded, registry())
    write_conf(tmp_path, seed=5)
    with capture_logs() as logs:
        for _ in range(3):  # three SIGHUPs before the first reload has read a file
            daemon.request_reload()
        first = daemon.reloading
        assert first is not None
        await first
    reloads = [e for e in logs if e["event"] == "conf.reloaded"]
    # The first reload saw the change; the signals during it asked for one more, not two
    # running alongside it, and that one found nothing new.
    assert [r["changed"] for r in reloads] == [["memory"], []]
    assert daemon.reloading is first and first.done()
    await asyncio.sleep(0)
