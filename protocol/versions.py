"""Bundle versions and OSGi-style version ranges, as IDM's `connectorRef.bundleVersion` writes
them: exact (`1.5.20.34`) or an interval (`[1.5.0.0,1.6.0.0)`, `[1.5,2)`, `(a,b]`).

The server resolves a request's key with them, and a client resolves a provisioner file's
`connectorRef` against the connectors a server lists, as IDM does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocol.errors import ConfigurationException

Version = tuple[int, ...]
_RANGE = re.compile(r"^\s*([\[(])\s*([^,\s]*)\s*,\s*([^,\s]*)\s*([\])])\s*$")


def parse_version(text: str) -> Version:
    """`1.5.20.34` -> (1, 5, 20, 34); trailing zeros dropped so 1.5 == 1.5.0.0."""
    parts = text.strip().split(".")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ConfigurationException(f"not a version: {text!r}") from None
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


@dataclass(frozen=True)
class VersionRange:
    """An exact version, or an interval with inclusive `[` `]` or exclusive `(` `)` ends."""

    low: Version | None
    high: Version | None
    low_inclusive: bool = True
    high_inclusive: bool = True

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        match = _RANGE.match(text)
        if match is None:
            exact = parse_version(text)
            return cls(exact, exact)
        opening, low, high, closing = match.groups()
        return cls(
            parse_version(low) if low else None,
            parse_version(high) if high else None,
            opening == "[",
            closing == "]",
        )

    def __contains__(self, version: Version) -> bool:
        if self.low is not None and (
            version < self.low or (version == self.low and not self.low_inclusive)
        ):
            return False
        return self.high is None or not (
            version > self.high or (version == self.high and not self.high_inclusive)
        )
