"""Python's cyclic garbage collector, set for programs that stream objects.

A search streams a page of objects at a time: tens of thousands of short-lived dicts and lists
that reference counting frees, never cycles. With the collector's default threshold (700 net
allocations) a full read of 100,000 objects set off about 2,700 collections in the server, 22
of them full ones walking every object alive since start-up (the imported modules, pydantic's
schemas): 0.9 CPU-seconds of its 2.8. Freezing what start-up made takes it out of every later
collection, and a threshold above a page's worth of objects leaves the collector to the cycles
it exists for (docs/benchmarks.md, "HubSpot connector: full read").
"""

from __future__ import annotations

import gc

STREAMING_THRESHOLD = 50_000
"""Net allocations between young collections: above what a page in flight holds."""


def settle_after_startup() -> None:
    """Call once start-up is done (modules imported, configuration read), before serving."""
    gc.freeze()
    gc.set_threshold(STREAMING_THRESHOLD)
