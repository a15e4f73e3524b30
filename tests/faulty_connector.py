"""The tests' fault injector: the in-memory connector, plus operations that fail or block on
demand. Registered by the tests' registries (tests/conftest.py) under the memory connector's
key; never shipped, so no peer of a real server can make a connector misbehave on purpose.

`blockOn` operations wait until they are cancelled; `failOn` operations (and `INIT`,
`CHECK_ALIVE`) raise `ConnectorIOException`.
"""

from __future__ import annotations

import asyncio
from typing import Final

from connector.base import ConnectorContext, SharedResources
from connector.configuration import Property
from connector.memory import OPERATIONS, MemoryConfiguration, MemoryConnector
from protocol.errors import ConfigurationException, ConnectorIOException

HOOKS: Final = frozenset({"INIT", "CHECK_ALIVE"})


class FaultyConfiguration(MemoryConfiguration):
    blockOn: list[str] = Property(
        default_factory=list, order=20, help="Operations that wait until they are cancelled"
    )
    failOn: list[str] = Property(
        default_factory=list,
        order=21,
        help="Operations (and INIT, CHECK_ALIVE) that fail with ConnectorIOException",
    )


class FaultyConnector(MemoryConnector):
    """The memory connector with `blockOn` and `failOn`."""

    configuration_class = FaultyConfiguration

    def __init__(self, context: ConnectorContext, shared: SharedResources) -> None:
        super().__init__(context, shared)
        assert isinstance(context.configuration, FaultyConfiguration)
        self.faults = context.configuration

    async def _enter(self, operation: str) -> None:
        await super()._enter(operation)
        if operation in self.faults.failOn:
            raise ConnectorIOException(f"{operation} failed on demand")
        if operation in self.faults.blockOn:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.store.stopped(operation)
                raise

    async def init(self) -> None:
        if "INIT" in self.faults.failOn:
            raise ConnectorIOException("INIT failed on demand")
        await super().init()

    async def check_alive(self) -> None:
        if "CHECK_ALIVE" in self.faults.failOn:
            raise ConnectorIOException("CHECK_ALIVE failed on demand")

    async def validate(self) -> None:
        unknown = (set(self.faults.failOn) | set(self.faults.blockOn)) - HOOKS - OPERATIONS
        if unknown:
            raise ConfigurationException(
                f"failOn/blockOn name unknown operations: {', '.join(sorted(unknown))}"
            )
