"""IDM's property value substitution, `&{name}` and `&{name|default}`, in provisioner files.

IDM's rules (PingIDM setup guide, "Property value substitution"), which operators moving a
provisioner file from IDM to this server already follow:

- a token is `&{name}`, `.` separating its words; `&{name|default}` falls back to `default`;
- a value may mix text and tokens: `https://&{hubspot.host}/crm` works;
- substitution is recursive: a resolved value may hold tokens itself;
- a token gives text; `{"$int": "&{port}"}`, `{"$number": ...}`, `{"$bool": ...}` and
  `{"$list": "a,b"}` turn it into a JSON integer, number, boolean or list of strings.

Where a name is looked up, first found wins: the environment under the name as written, the
environment under the name in upper case with `.` and `-` as `_` (`hubspot.client.secret` is
`HUBSPOT_CLIENT_SECRET`), the substitution file (`conf/substitution.properties`, or the file that
`RCS_SUBSTITUTION_FILE` names), then the token's default. A name found nowhere, without a
default, is an error naming the file and JSON path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["Substituter", "SubstitutionError"]

_TOKEN = re.compile(r"&\{([^{}|]*)(?:\|([^{}]*))?\}")
_MAX_DEPTH: Final = 10
_COERCIONS: Final = ("$int", "$number", "$bool", "$list")


class SubstitutionError(ValueError):
    """A token that does not resolve, loops, or does not convert to the type asked for."""


@dataclass
class Substituter:
    """Resolves tokens from the environment and a substitution file, and remembers where."""

    environ: Mapping[str, str]
    file_values: Mapping[str, str] = field(default_factory=dict)

    def lookup(self, name: str) -> str | None:
        """The value of a token name, or None when no source defines it."""
        for candidate in (name, re.sub(r"[.\-]", "_", name).upper()):
            if candidate in self.environ:
                return self.environ[candidate]
        return self.file_values.get(name)

    def text(self, value: str) -> str:
        """Replace every token in `value`, recursively."""
        return self._text(value, ())

    def tree(
        self,
        value: Any,
        errors: list[tuple[list[str | int], str]],
        path: tuple[str | int, ...] = (),
    ) -> tuple[Any, bool]:
        """Substitute inside a JSON value; also tell whether any token was found.

        Every problem is appended to `errors` as (JSON path, message), and the walk goes on,
        so that one run reports them all.
        """
        try:
            if isinstance(value, str):
                return (self.text(value), True) if "&{" in value else (value, False)
            if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _COERCIONS:
                kind, inner = next(iter(value.items()))
                if not isinstance(inner, str):
                    raise SubstitutionError(f"{kind} takes a string")
                return _coerce(kind, self.text(inner)), "&{" in inner
        except SubstitutionError as error:
            errors.append((list(path), str(error)))
            return value, True
        found = False
        if isinstance(value, dict):
            result: dict[str, Any] = {}
            for key, item in value.items():
                result[key], hit = self.tree(item, errors, (*path, key))
                found = found or hit
            return result, found
        if isinstance(value, list):
            items: list[Any] = []
            for index, item in enumerate(value):
                new, hit = self.tree(item, errors, (*path, index))
                items.append(new)
                found = found or hit
            return items, found
        return value, False

    def _text(self, value: str, stack: tuple[str, ...]) -> str:
        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1).strip(), match.group(2)
            if not name:
                raise SubstitutionError("empty &{} token")
            if name in stack:
                raise SubstitutionError(f"&{{{name}}} refers to itself")
            if len(stack) >= _MAX_DEPTH:
                raise SubstitutionError(f"&{{{name}}}: tokens nested deeper than {_MAX_DEPTH}")
            resolved = self.lookup(name)
            if resolved is None:
                if default is None:
                    raise SubstitutionError(
                        f"&{{{name}}} is not set (environment, substitution file) and has no "
                        "|default"
                    )
                resolved = default
            return self._text(resolved, (*stack, name))

        return _TOKEN.sub(replace, value)


def _coerce(kind: str, text: str) -> Any:
    try:
        if kind == "$int":
            return int(text.strip())
        if kind == "$number":
            number = float(text.strip())
            return int(number) if number.is_integer() and "." not in text else number
        if kind == "$bool":
            lowered = text.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError
            return lowered == "true"
        return [item.strip() for item in text.split(",")] if text.strip() else []
    except ValueError:
        raise SubstitutionError(f"{kind}: the substituted text is not of that type") from None
