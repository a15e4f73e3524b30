"""Defect 11: inline configurations hold a pool each, and there is a bound: the least recently
used idle one is dropped for a new one. A real server, a real client."""

from __future__ import annotations

from client.connection import RcsClient
from server.app import ConnectorServer
from tests.conftest import KEY, MEMORY_KEY, memory_configuration, registry, settings


async def test_inline_configurations_are_bounded_and_the_oldest_dropped() -> None:
    async with (
        ConnectorServer(settings(inline_configuration_max=4), registry()) as rcs,
        await RcsClient.connect(rcs.url, KEY) as client,
    ):
        for n in range(30):
            facade = client.facade_for(
                MEMORY_KEY, memory_configuration(seed=n % 7 + 1, pageSize=n + 1)
            )
            await facade.test()
            inline = [p for p in rcs.pools if p.inline and not p.closed]
            assert len(inline) <= 4
        names = {p.key.configuration_name for p in rcs.pools if p.inline and not p.closed}
        assert len(names) == 4
        # The most recent four are the ones kept; an old one comes back as a new pool.
        first = client.facade_for(MEMORY_KEY, memory_configuration(seed=1, pageSize=1))
        await first.test()
        assert len([p for p in rcs.pools if p.inline and not p.closed]) == 4
