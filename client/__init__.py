"""The bundled protocol client: `RcsClient` (one socket), `Facade` (one configuration's ops).

from client import RcsClient

async with await RcsClient.connect("ws://127.0.0.1:8759/openicf", key) as client:
    hubspot = await client.facade("hubspot")
    await hubspot.test()
"""

from client.connection import (
    DEFAULT_URL,
    Facade,
    RcsClient,
    SearchResults,
    SyncResults,
    tls_context,
)
from client.queryfilter import QueryFilterError, parse_query_filter

__all__ = [
    "DEFAULT_URL",
    "Facade",
    "QueryFilterError",
    "RcsClient",
    "SearchResults",
    "SyncResults",
    "parse_query_filter",
    "tls_context",
]
