"""What the request handlers share: one emulated HubSpot account and its machinery."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from emulator.auth import TokenStore
from emulator.faults import Faults
from emulator.ratelimit import RateLimiter
from emulator.settings import EmulatorSettings
from emulator.store import Store
from emulator.values import Clock

__all__ = ["STATE", "RequestRecord", "State"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the emulator answered it, for assertions in tests."""

    method: str
    path: str
    query: str
    status: int
    fault: int | None = None  # id of the fault rule that shaped the answer


@dataclass
class State:
    settings: EmulatorSettings
    clock: Clock
    store: Store
    tokens: TokenStore
    limiter: RateLimiter
    faults: Faults
    requests: deque[RequestRecord] = field(default_factory=deque)

    @classmethod
    def create(cls, settings: EmulatorSettings, store: Store | None = None) -> State:
        clock = store.clock if store is not None else Clock()
        return cls(
            settings=settings,
            clock=clock,
            store=store or Store(settings, clock),
            tokens=TokenStore(settings, clock),
            limiter=RateLimiter(settings, clock),
            faults=Faults.from_settings(settings),
            requests=deque(maxlen=settings.request_log_size),
        )


STATE = web.AppKey("state", State)
