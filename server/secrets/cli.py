"""`hubspot-rcs key set` and `hubspot-rcs secrets keygen|encrypt|rotate|verify`.

`add_subcommands(subparsers)` adds them to the `hubspot-rcs` parser; each sets `args.func`, which
takes the parsed arguments and returns the exit status. Secrets are read from stdin (a prompt
on a terminal) or a file, never from the command line, where `ps` and shell history would keep
them (OWASP: keep secrets out of process arguments).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from server.atomicfile import locked, write_atomic
from server.conf.errors import ConfigurationError
from server.conf.loader import PROPERTIES_FILE, keystore_path
from server.conf.provisioner import PROPERTIES, PROVISIONER_PREFIX, provisioner_files
from server.keyhash import hash_key
from server.properties import PropertiesError, update
from server.secrets import maintenance
from server.secrets.checks import (
    PropertyError,
    check_confidential,
    has_encrypted_values,
    short_key_warning,
)
from server.secrets.envelope import Place, SecretError, encrypt
from server.secrets.jsonedit import JsonEditError, json_path, set_member
from server.secrets.keystore import Keystore, KeystoreError

__all__ = ["add_subcommands"]

_OK, _FAILED, _USAGE = 0, 1, 2


def add_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `key set` and `secrets ...` to the `hubspot-rcs` command."""
    key = subparsers.add_parser(
        "key", help="the shared key IDM presents", description="The shared key IDM presents."
    )
    key_commands = key.add_subparsers(dest="key_command", required=True, metavar="COMMAND")
    key_set = key_commands.add_parser(
        "set",
        help="store the shared key's salted hash in ConnectorServer.properties",
        description="Reads the key from stdin (typed twice on a terminal) or --key-file, or makes "
        "one up with --generate, and stores its salted scrypt hash as connectorserver.key. IDM "
        "sends the key itself (remoteConnectorServers[].key). Example: "
        'echo "$RCS_KEY" | hubspot-rcs key set --conf conf',
    )
    _conf_option(key_set)
    source = key_set.add_mutually_exclusive_group()
    source.add_argument(
        "--key-file",
        type=Path,
        help="read the key from this file, e.g. /run/secrets/rcs-key (default: stdin)",
    )
    source.add_argument(
        "--generate",
        action="store_true",
        help="make a random 256-bit key and print it once (default: read it)",
    )
    key_set.set_defaults(func=_reporting(_key_set))

    group = subparsers.add_parser(
        "secrets",
        help="encrypted values in provisioner files",
        description="Encrypted values in provisioner files, and the keystore that opens them.",
    )
    commands = group.add_subparsers(dest="secrets_command", required=True, metavar="COMMAND")

    keygen = commands.add_parser(
        "keygen",
        help="add a new key to the keystore",
        description="Add a new key to the keystore (created if absent) and print its id.",
    )
    _conf_option(keygen, keystore=True)
    keygen.add_argument(
        "--activate",
        action="store_true",
        help="encrypt with it from now on (default: only when it is the first key)",
    )
    keygen.set_defaults(func=_reporting(_keygen))

    activate = commands.add_parser(
        "activate",
        help="encrypt new values with this key from now on (one keygen added without --activate)",
        description="Make a key that keygen added without --activate the one new values are "
        "encrypted with; values already encrypted keep their key until rotate. "
        "Example: hubspot-rcs secrets activate KEY_ID (the id keygen printed).",
    )
    _conf_option(activate, keystore=True)
    activate.add_argument("key_id", help="the key's id, as keygen printed it")
    activate.set_defaults(func=_reporting(_activate))

    encrypt_ = commands.add_parser(
        "encrypt",
        help="encrypt a value (from stdin) for one property of one provisioner file",
        description="Reads the value from stdin (or --value-file) and prints the $crypto object "
        "to paste as the property's value, or with --write stores it in the file. The value is "
        'bound to the file name and property. Example: echo "$SECRET" | hubspot-rcs secrets '
        "encrypt --conf conf --file hubspot --property clientSecret --write",
    )
    _conf_option(encrypt_, keystore=True)
    encrypt_.add_argument(
        "--file",
        required=True,
        help="the provisioner file, by file name or configuration name, e.g. hubspot (required)",
    )
    encrypt_.add_argument(
        "--property",
        required=True,
        help="a confidential property of that configuration, e.g. clientSecret (required)",
    )
    encrypt_.add_argument(
        "--value-file", type=Path, help="read the value from this file (default: stdin)"
    )
    encrypt_.add_argument(
        "--write", action="store_true", help="store it in the file (default: print it)"
    )
    encrypt_.set_defaults(func=_reporting(_encrypt))

    rotate = commands.add_parser(
        "rotate",
        help="re-encrypt every value under the active key",
        description="Re-encrypt every value of every provisioner file under the active key.",
    )
    _conf_option(rotate, keystore=True)
    rotate.add_argument(
        "--retire",
        action="store_true",
        help="then remove keys no value uses any more (default: keep them)",
    )
    rotate.set_defaults(func=_reporting(_rotate))

    verify = commands.add_parser(
        "verify",
        help="check that every encrypted value decrypts",
        description="Decrypt every encrypted value and report each; exit status 1 if one fails.",
    )
    _conf_option(verify, keystore=True)
    verify.set_defaults(func=_reporting(_verify))


def _reporting(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the errors an operator can fix into one line on stderr and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (
            ConfigurationError,
            KeystoreError,
            PropertiesError,
            SecretError,
            JsonEditError,
        ) as error:
            print(f"error: {error}", file=sys.stderr)
        except OSError as error:
            print(f"error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return _FAILED

    return run


def _conf_option(parser: argparse.ArgumentParser, *, keystore: bool = False) -> None:
    parser.add_argument(
        "--conf",
        type=Path,
        default=Path("conf"),
        help="the configuration directory, e.g. /etc/hubspot-rcs (default ./conf)",
    )
    if keystore:
        parser.add_argument(
            "--keystore",
            type=Path,
            help="the keystore file (default: $RCS_KEYSTORE, connectorserver.keystore, "
            "or keys/keystore.json in the configuration directory)",
        )


def _keystore(args: argparse.Namespace) -> Path:
    return Path(args.keystore) if args.keystore is not None else keystore_path(args.conf)


def _key_set(args: argparse.Namespace) -> int:
    if args.generate:
        key = secrets.token_urlsafe(32)  # 256 bits (docs/hardening.md §B2)
    elif args.key_file is not None:
        key = _strip_newline(args.key_file.read_text(encoding="utf-8"))
    else:
        key = _read_secret("shared key")
    if not key:
        print("error: the key is empty", file=sys.stderr)
        return _USAGE
    warning = None if args.generate else short_key_warning(key)
    if warning:
        print(warning, file=sys.stderr)
    update(args.conf / PROPERTIES_FILE, {"connectorserver.key": hash_key(key)})
    if "RCS_KEY_HASH" in os.environ:
        print("warning: RCS_KEY_HASH is set and overrides connectorserver.key", file=sys.stderr)
    if args.generate:
        print(key)  # shown once, for IDM's remoteConnectorServers[].key
    print(f"connectorserver.key set in {args.conf / PROPERTIES_FILE}", file=sys.stderr)
    return _OK


def _keygen(args: argparse.Namespace) -> int:
    keystore, created = Keystore.open(_keystore(args))
    if created:
        print(keystore.active_id)
        print(f"created {keystore.path} with key {keystore.active_id}", file=sys.stderr)
        return _OK
    keystore, key_id = keystore.with_new_key(activate=args.activate)
    print(key_id)
    state = "active" if args.activate else f"not active (active: {keystore.active_id})"
    print(f"added key {key_id} to {keystore.path}, {state}", file=sys.stderr)
    return _OK


def _activate(args: argparse.Namespace) -> int:
    keystore = Keystore.load(_keystore(args)).with_active(args.key_id)
    print(
        f"key {keystore.active_id} of {keystore.path} is active: new values are encrypted with "
        "it; `secrets rotate` re-encrypts the others",
        file=sys.stderr,
    )
    return _OK


def _encrypt(args: argparse.Namespace) -> int:
    name = args.file
    if not name.endswith(".json"):
        name = f"{PROVISIONER_PREFIX}{name}.json"
    path = args.conf / Path(name).name
    if not path.is_file():
        known = ", ".join(p.name for p in provisioner_files(args.conf)) or "none"
        print(f"error: {path}: no such provisioner file (there are: {known})", file=sys.stderr)
        return _FAILED
    try:
        check_confidential(path, args.property)
    except PropertyError as error:
        print(f"error: {error}", file=sys.stderr)
        return _FAILED
    if args.value_file is not None:
        value = _strip_newline(args.value_file.read_text(encoding="utf-8"))
    else:
        value = _read_secret(f"value of {args.property}")
    where = [PROPERTIES, args.property]
    keystore, _ = Keystore.open(_keystore(args))
    sealed = encrypt(keystore, value, Place(path.name, json_path(where)))
    if args.write:
        with locked(path):
            text = path.read_text(encoding="utf-8")
            write_atomic(path, set_member(text, [PROPERTIES], args.property, sealed).encode())
        print(
            f"{path}: {json_path(where)} encrypted with key {keystore.active_id}", file=sys.stderr
        )
    else:
        print(json.dumps(sealed, indent=2))
    return _OK


def _rotate(args: argparse.Namespace) -> int:
    keystore = Keystore.load(_keystore(args))
    files = provisioner_files(args.conf)
    reports = maintenance.rotate(files, keystore)
    for report in reports:
        print(report)
    failed = [r for r in reports if r.error]
    print(
        f"{len(reports) - len(failed)} value(s) re-encrypted with key {keystore.active_id}, "
        f"{len(failed)} failed",
        file=sys.stderr,
    )
    if failed:
        return _FAILED
    if args.retire:
        for key_id in maintenance.unused_keys(files, keystore):
            keystore = keystore.without_key(key_id)
            print(f"retired key {key_id}", file=sys.stderr)
    return _OK


def _verify(args: argparse.Namespace) -> int:
    files = provisioner_files(args.conf)
    if not has_encrypted_values(files):
        print(
            f"nothing to verify: no provisioner file in {args.conf} holds an encrypted value "
            "(plain-text secrets are encrypted when the server loads them)",
            file=sys.stderr,
        )
        return _OK
    keystore = Keystore.load(_keystore(args))
    reports = maintenance.verify(files, keystore)
    for report in reports:
        print(report)
    failed = sum(1 for r in reports if r.error)
    print(f"{len(reports) - failed} value(s) decrypt, {failed} do not", file=sys.stderr)
    return _FAILED if failed else _OK


def _read_secret(what: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"{what}: ")
        if getpass.getpass(f"{what} again: ") != first:
            raise SystemExit("error: the two entries differ")
        return first
    return _strip_newline(sys.stdin.read())


def _strip_newline(text: str) -> str:
    """Drop the one line ending an editor or `echo` adds; keep any other white space."""
    return text.removesuffix("\n").removesuffix("\r")
