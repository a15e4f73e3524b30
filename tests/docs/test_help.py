"""Help that teaches: every argument of the three commands says what it is, its default, and
an example where the syntax is not obvious; no module names or Markdown; `--version` everywhere."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.cli import parser as client_parser
from emulator.cli import build_parser as emulator_parser
from server.cli import parser as server_parser
from tests.conftest import command

PARSERS = {
    "hubspot-rcs": server_parser,
    "hubspot-rcs-client": client_parser,
    "hubspot-rcs-emulator": emulator_parser,
}
ROOT = Path(__file__).resolve().parents[2]
DOTTED = {
    (path.parent if path.stem == "__init__" else path.with_suffix(""))
    .relative_to(ROOT)
    .as_posix()
    .replace("/", ".")
    for package in ("server", "client", "connector", "protocol", "emulator")
    for path in (ROOT / package).rglob("*.py")
}
MODULES = sorted(m for m in DOTTED if "." in m)  # `server.conf`, not the word "server"
MODULE = re.compile(r"\b(" + "|".join(re.escape(m) for m in MODULES) + r")\b(?!\.py)")
MARKDOWN = re.compile(r"`|\*\*|\]\(|^#", re.MULTILINE)
NEEDS_EXAMPLE = {
    # (command path, option): syntax a newcomer cannot guess
    ("hubspot-rcs-client", "--url"): "ws://",
    ("hubspot-rcs-client", "--connector"): "bundleName:bundleVersion:connectorName",
    ("hubspot-rcs-client search", "config"): "@provisioner",
    ("hubspot-rcs-client search", "--query-filter"): 'e.g. \'lastname eq "Lee"',
    ("hubspot-rcs-client search", "--sort-keys"): "e.g. --sort-keys=-lastname",
    ("hubspot-rcs-client search", "--attributes"): "e.g. __NAME__,firstname",
    ("hubspot-rcs-client create", "--attr"): "name:=JSON",
    ("hubspot-rcs-client update", "--attr"): "e.g. --attr __NAME__=",
    ("hubspot-rcs-client create", "--json"): "@FILE",
    ("hubspot-rcs-client script", "--arg"): "e.g. --arg n:=1",
    ("hubspot-rcs-client", "--protocol"): "e.g. --protocol openicf test @provisioner",
    ("hubspot-rcs secrets encrypt", "--property"): "e.g. clientSecret",
    ("hubspot-rcs-emulator", "--set"): "e.g. --set",
    ("hubspot-rcs-emulator", "--error-statuses"): "e.g. 429,423,503",
}


def walk(
    prog: str, parser: argparse.ArgumentParser
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser under `parser`, with its command path."""
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(f"{prog} {name}", sub)


def arguments() -> list[tuple[str, argparse.Action]]:
    found = []
    for prog, build in PARSERS.items():
        for path, parser in walk(prog, build()):
            for action in parser._actions:
                if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                    continue
                found.append((path, action))
    return found


def name(action: argparse.Action) -> str:
    return action.option_strings[0] if action.option_strings else action.dest


@pytest.mark.parametrize(
    ("path", "action"), arguments(), ids=lambda v: v if isinstance(v, str) else name(v)
)
def test_every_argument_has_help_with_its_default(path: str, action: argparse.Action) -> None:
    text = action.help or ""
    assert text and text != argparse.SUPPRESS, f"{path} {name(action)} has no help"
    if isinstance(action, argparse._VersionAction):
        return
    if action.option_strings:  # positionals are required by nature
        given = "default" in text or "required" in text
        assert given, f"{path} {name(action)}: no default: {text}"
        if action.required:
            assert "required" in text, f"{path} {name(action)}: say it is required"
    assert not MODULE.search(text), f"{path} {name(action)} names a module: {text}"
    assert not MARKDOWN.search(text), f"{path} {name(action)} has Markdown: {text}"


def test_the_arguments_whose_syntax_is_not_obvious_show_an_example() -> None:
    helps = {(path, name(action)): action.help or "" for path, action in arguments()}
    missing = [
        f"{path} {option}: {helps.get((path, option))!r} lacks {example!r}"
        for (path, option), example in NEEDS_EXAMPLE.items()
        if example not in helps.get((path, option), "")
    ]
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("prog", PARSERS)
def test_descriptions_name_no_module_and_use_no_markdown(prog: str) -> None:
    for path, parser in walk(prog, PARSERS[prog]()):
        for text in (parser.description or "", parser.epilog or "", parser.format_help()):
            assert not MODULE.search(text), f"{path}: {MODULE.search(text)}"
            assert "`" not in text and "**" not in text, f"{path}: Markdown in {text!r}"


@pytest.mark.parametrize("prog", PARSERS)
def test_version(prog: str) -> None:
    result = subprocess.run(
        [*command(prog), "--version"]
        if prog != "hubspot-rcs-emulator"
        else [str(_script(prog)), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert re.fullmatch(rf"{prog} \d+\.\d+\.\d+\S*\n", result.stdout), result.stdout


def _script(prog: str) -> str:
    script = Path(sys.executable).parent / prog
    return str(script) if script.exists() else f"{sys.executable} -m emulator.cli"
