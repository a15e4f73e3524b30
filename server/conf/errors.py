"""Configuration errors: every problem found, each with its file and JSON path or key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ConfigIssue", "ConfigurationError"]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem: `conf/provisioner.openicf-hubspot.json: $.poolConfigOption.maxObjects: ...`.

    `file` is the file as the operator would type it (or `environment` for a variable), `where`
    the JSON path or the properties key or the variable's name. Messages never quote a value:
    the value may be a secret.
    """

    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.where}: {self.message}"
            if self.where
            else f"{self.file}: {self.message}"
        )


class ConfigurationError(Exception):
    """The configuration is invalid; `issues` lists every problem found, not just the first.

    The server refuses to start (or a reload keeps the running configuration) rather than run
    half-configured (singer-sdk's `_validate_config`, docs/hardening.md §A6).
    """

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        count = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{count} configuration error{'s' if count != 1 else ''}:\n{lines}")
