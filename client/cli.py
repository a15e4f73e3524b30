"""`hubspot-rcs-client`: talk to a connector server from the shell; JSON in, JSON out.

    export RCS_KEY=...            # or --key-file FILE (or --key, visible to `ps`)
    hubspot-rcs-client info
    hubspot-rcs-client test hubspot
    hubspot-rcs-client search hubspot contact --query-filter 'email sw "ann" and lastname eq "Lee"'
    hubspot-rcs-client create hubspot contact --attr __NAME__=ann@example.com --attr firstname=Ann
    hubspot-rcs-client sync hubspot contact --token "$TOKEN" --follow

CONFIG names a configuration the server holds; the connector key each operation needs comes
from the server's CONNECTOR_INFO (or `--connector bundleName:bundleVersion:connectorName`).
`@FILE` instead of a name sends a provisioner file inline, with the file's `connectorRef`.

`--protocol openicf` speaks OpenICF 1.5, as IDM does, instead of our JSON protocol; the output
is the same. That wire has no named configurations (IDM sends its provisioner file with every
request), so CONFIG must then be `@FILE`: a name is refused before any socket opens.

Output is JSON on stdout (a search writes one object per line, its SearchResult last); errors
go to stderr as `<ICF exception class>: <message>`, with exit status 1 (2 for usage errors).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from pydantic import ValidationError

from client.connection import DEFAULT_URL, Facade, RcsClient, tls_context
from client.fastpath import dumps_lines, raw_search
from client.idmnames import ObjectType, object_type
from client.progress import Progress
from client.queryfilter import QueryFilterError, parse_query_filter
from client.status import connector_of, system_status, systems_status
from protocol.configuration import ConfigurationRef, ConnectorKey, InlineConfiguration
from protocol.errors import (
    ConfigurationException,
    ConnectorException,
    IllegalArgumentException,
    UnknownUidException,
)
from protocol.values import (
    Attributes,
    AttributeValue,
    ConnectorObject,
    CountPolicy,
    OperationOptions,
    SearchResult,
    SortKey,
    SyncToken,
    Uid,
    UpdateType,
)

KEY_ENV = "RCS_KEY"


class UsageError(Exception):
    """A command line that cannot work; exit status 2."""


# -- arguments ----------------------------------------------------------------------------------


def parse_attributes(pairs: Sequence[str], document: str | None) -> Attributes:
    """`--attr name=value` (repeat a name for several values; `name:=JSON` for a typed value;
    `name=` alone for none) merged over `--json '{"name": value or [values]}'`."""
    attributes: dict[str, list[AttributeValue]] = {}
    if document is not None:
        text = Path(document[1:]).read_text() if document.startswith("@") else document
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--json is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError("--json must be an object of attribute names to values")
        for name, value in loaded.items():
            attributes[name] = (
                [] if value is None else list(value) if isinstance(value, list) else [value]
            )
    for pair in pairs:
        name, typed, raw = _split_pair(pair)
        values = attributes.setdefault(name, [])
        if raw == "" and not typed:
            continue
        try:
            values.append(json.loads(raw) if typed else raw)
        except ValueError:
            raise UsageError(f"--attr {pair}: the value after := must be JSON") from None
    return attributes


def _split_pair(pair: str) -> tuple[str, bool, str]:
    name, sep, value = pair.partition("=")
    if not sep or not name:
        raise UsageError(f"--attr {pair!r}: expected name=value")
    typed = name.endswith(":")
    return name.removesuffix(":"), typed, value


def parse_connector(text: str) -> ConnectorKey:
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise UsageError("--connector is bundleName:bundleVersion:connectorName")
    return ConnectorKey(bundleName=parts[0], bundleVersion=parts[1], connectorName=parts[2])


def parse_sort_keys(text: str) -> list[SortKey]:
    """IDM's `_sortKeys`: `lastname,-firstname` (a leading `-` sorts descending)."""
    keys = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        descending = item.startswith("-")
        keys.append(SortKey(field=item.lstrip("+-"), ascending=not descending))
    return keys


def check_protocol(args: argparse.Namespace) -> None:
    """Refuse a configuration name on the OpenICF wire, saying what works instead."""
    config = getattr(args, "config", None)
    if args.protocol != "openicf" or config is None or config.startswith("@"):
        return
    raise UsageError(
        f"configuration {config!r}: the OpenICF protocol has no configurations held by name on "
        "the server; each request carries its whole configuration, as IDM sends it. Give the "
        f"provisioner file instead (@provisioner.openicf-{config}.json; its confidential "
        "properties travel as GuardedStrings), or use --protocol json to name the server's "
        "configuration"
    )


def read_key(args: argparse.Namespace) -> str:
    if args.key:
        return str(args.key)
    if args.key_file:
        return Path(args.key_file).read_text().strip()
    key = os.environ.get(KEY_ENV)
    if not key:
        raise UsageError(f"no key: give --key-file FILE, set {KEY_ENV}, or --key")
    return key


def ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.url.startswith("wss:"):
        if args.cafile or args.cert or args.insecure:
            raise UsageError("TLS options need a wss:// --url")
        return None
    if args.cert_key and not args.cert:
        raise UsageError("--cert-key needs --cert")
    try:
        return tls_context(
            cafile=args.cafile, certfile=args.cert, keyfile=args.cert_key, verify=not args.insecure
        )
    except ssl.SSLError as exc:
        raise UsageError(f"cannot use the TLS files: {exc.reason or exc}") from None


# -- output -------------------------------------------------------------------------------------


def emit(value: Any, out: TextIO) -> None:
    out.write(json.dumps(value, separators=(",", ":")) + "\n")


def dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


# -- commands -----------------------------------------------------------------------------------


async def facade_for(client: RcsClient, args: argparse.Namespace) -> Facade:
    config: str = args.config
    if args.inline_document is not None:
        document = args.inline_document
        inline = InlineConfiguration.model_validate(document)
        ref = document.get("connectorRef")
        key = (
            parse_connector(args.connector)
            if args.connector
            else ConnectorKey(
                bundleName=ref["bundleName"],
                bundleVersion=ref["bundleVersion"],
                connectorName=ref["connectorName"],
            )
        )
        return client.facade_for(key, inline)
    if args.connector:
        return client.facade_for(parse_connector(args.connector), ConfigurationRef(name=config))
    return await client.facade(config)


async def idm_type(client: RcsClient, args: argparse.Namespace) -> ObjectType | None:
    """IDM's names for the command's object class: the provisioner file's `objectTypes`, from
    the `@file` given or from the server's CONNECTOR_INFO (docs/protocol.md)."""
    if args.inline_document is not None:
        types = args.inline_document.get("objectTypes")
    else:
        try:
            types = (await client.configuration(args.config)).objectTypes
        except ConnectorException:
            if not args.connector:
                raise
            types = None  # --connector with a configuration the server does not list
    return object_type(types, args.object_class)


def names_of(declared: ObjectType | None, args: argparse.Namespace) -> ObjectType:
    """The mapping to use: the declared one, or none but `_id` (which is always `__UID__`)."""
    return declared or ObjectType(name=args.object_class, native_type=args.object_class)


def show(obj: ConnectorObject, declared: ObjectType | None) -> Any:
    """An object under IDM's names where the configuration declares them, else as sent."""
    return declared.idm_object(obj) if declared is not None else dump(obj)


async def cmd_info(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    info = await client.connector_info()
    emit(
        {
            "connectors": [dump(c) for c in info.connectorInfos or []],
            "configurations": [dump(c) for c in info.configurations or []],
        },
        out,
    )


async def cmd_test(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    """Print what IDM prints for `system/<name>?_action=test` (client.status); without a
    name, the list IDM prints for `system?_action=test`, one system per configuration."""
    if args.config is None:
        emit(await systems_status(client, timeout_s=args.timeout), out)
        return
    facade = await facade_for(client, args)
    if args.inline_document is not None:
        document = args.inline_document
        ref = document.get("connectorRef") or {}
        name = str(document.get("name") or Path(args.config[1:]).stem.split("-", 1)[-1])
        enabled = document.get("enabled") not in (False, "false")
        display_name, declared = ref.get("displayName"), document.get("objectTypes")
    else:
        known = await client.configuration(args.config) if not args.connector else None
        name = args.config
        enabled = known.enabled if known else True
        display_name = known.displayName if known else None
        declared = known.objectTypes if known else None
    report, failure = await system_status(
        name,
        facade,
        enabled=enabled,
        display_name=display_name,
        declared=declared,
        connector=connector_of(await client.connectors(), facade.connector_key),
        timeout_s=args.timeout,
    )
    emit(report, out)
    if failure is not None:
        raise failure
    if not enabled:
        raise ConfigurationException(f"configuration {name!r} is disabled (enabled: false)")


async def cmd_validate(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    await (await facade_for(client, args)).validate(timeout_s=args.timeout)
    emit({"ok": True}, out)


async def cmd_schema(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    emit(dump(await (await facade_for(client, args)).schema(timeout_s=args.timeout)), out)


def _options(args: argparse.Namespace, names: ObjectType) -> OperationOptions:
    fields: dict[str, Any] = {}
    if getattr(args, "attributes", None):
        wanted = [a.strip() for a in args.attributes.split(",") if a.strip()]
        fields["attributesToGet"] = names.attributes_to_get(wanted)
    if getattr(args, "page_size", None) is not None:
        fields["pageSize"] = args.page_size
    if getattr(args, "cookie", None):
        fields["pagedResultsCookie"] = args.cookie
    if getattr(args, "offset", None) is not None:
        fields["pagedResultsOffset"] = args.offset
    if getattr(args, "sort_keys", None):
        fields["sortKeys"] = names.sort_keys(parse_sort_keys(args.sort_keys))
    if getattr(args, "count_policy", None):
        fields["totalPagedResultsPolicy"] = CountPolicy(args.count_policy)
    return OperationOptions(**fields)


async def cmd_get(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    facade = await facade_for(client, args)
    declared = await idm_type(client, args)
    names = names_of(declared, args)
    found = await facade.get(
        names.native_type, args.uid, _options(args, names), timeout_s=args.timeout
    )
    if found is None:
        raise UnknownUidException(f"no {args.object_class} with uid {args.uid}")
    emit(show(found, declared), out)


async def cmd_search(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    facade = await facade_for(client, args)
    query = args.query
    declared = await idm_type(client, args)
    names = names_of(declared, args)
    options = _options(args, names)
    if query is False:  # IDM answers `false` without asking the connector
        emit(dump(SearchResult()), out)
        return
    progress = Progress(sys.stderr)
    flt = None if query is True else names.filter(query)
    # Objects as the wire's JSON, printed without becoming models (client/fastpath.py).
    search = raw_search(facade, names.native_type, flt, options, timeout_s=args.timeout)
    async with search as results:
        try:
            async for page in results.pages():
                shown = page if declared is None else [declared.idm_dict(o) for o in page]
                out.write(dumps_lines(shown))
                progress.update(results.count, results.scanned)
        finally:
            progress.done(results.count, results.scanned, complete=results.result is not None)
    emit(dump(results.result) if results.result else {}, out)


async def cmd_create(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    facade = await facade_for(client, args)
    names = names_of(await idm_type(client, args), args)
    attributes = names.attributes(parse_attributes(args.attr, args.json))
    emit(dump(await facade.create(names.native_type, attributes, timeout_s=args.timeout)), out)


async def cmd_update(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    facade = await facade_for(client, args)
    names = names_of(await idm_type(client, args), args)
    attributes = names.attributes(parse_attributes(args.attr, args.json))
    update_type = (
        UpdateType.ADD if args.add else UpdateType.REMOVE if args.remove else (UpdateType.REPLACE)
    )
    uid = Uid(value=args.uid, revision=args.revision)
    new = await facade.update(
        names.native_type, uid, attributes, update_type, timeout_s=args.timeout
    )
    emit(dump(new), out)


async def cmd_delete(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    facade = await facade_for(client, args)
    names = names_of(await idm_type(client, args), args)
    uid = Uid(value=args.uid, revision=args.revision)
    await facade.delete(names.native_type, uid, timeout_s=args.timeout)
    emit({}, out)


async def cmd_script(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    facade = await facade_for(client, args)
    text = args.text
    arguments = {
        n: v[0] if len(v) == 1 else v for n, v in parse_attributes(args.arg, args.json).items()
    }
    emit(
        await facade.script_on_connector(args.language, text, arguments, timeout_s=args.timeout),
        out,
    )


async def cmd_sync(client: RcsClient, args: argparse.Namespace, out: TextIO) -> None:
    """No token: the latest token (IDM's first poll). A token: the deltas since it, one JSON
    line each, then `{"token": ...}`, where the next poll resumes. `--follow` polls every
    `--interval` seconds, as IDM's live-sync schedule does, until Ctrl-C."""
    facade = await facade_for(client, args)
    declared = await idm_type(client, args)
    names = names_of(declared, args)
    options = _options(args, names)
    object_class = names.native_type
    token = None if args.token is None else SyncToken(value=_token_value(args.token))
    if token is None:
        token = await facade.latest_sync_token(object_class, timeout_s=args.timeout)
        emit({"token": None if token is None else token.value}, out)
        if not args.follow:
            return
        out.flush()
        await asyncio.sleep(args.interval)
    while True:
        async with facade.sync(object_class, token, options, timeout_s=args.timeout) as deltas:
            async for delta in deltas:
                shown = dump(delta)
                if delta.connectorObject is not None:
                    shown["connectorObject"] = show(delta.connectorObject, declared)
                emit(shown, out)
                token = delta.token
        token = deltas.token
        emit({"token": None if token is None else token.value}, out)
        out.flush()
        if not args.follow:
            return
        await asyncio.sleep(args.interval)


def _token_value(text: str) -> str | int:
    """A token printed as a number is a number (ICF tokens are strings or integers)."""
    return int(text) if text.isdigit() else text


# -- the parser -----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="hubspot-rcs-client",
        description="A client of the hubspot-rcs protocol.",
        epilog=f"The key comes from --key, --key-file or ${KEY_ENV}.",
    )
    top.add_argument("--url", default=DEFAULT_URL, help=f"the server (default {DEFAULT_URL})")
    top.add_argument("--key", help="the shared key (visible to ps: prefer the others)")
    top.add_argument("--key-file", help="a file holding the shared key")
    top.add_argument("--bearer", action="store_true", help="send the key as a Bearer token")
    top.add_argument(
        "--protocol",
        choices=["json", "openicf"],
        default="json",
        help="the wire: json (ours) or openicf (OpenICF 1.5, as IDM speaks it; CONFIG must "
        "then be @FILE); default json",
    )
    top.add_argument("--connector", help="bundleName:bundleVersion:connectorName")
    top.add_argument("--timeout", type=float, help="seconds to wait for an answer")
    top.add_argument(
        "--cafile", "--cacert", help="CA certificates (PEM) to verify a wss:// server with"
    )
    top.add_argument("--cert", help="a client certificate, PEM (mutual TLS)")
    top.add_argument("--cert-key", help="the client certificate's private key, PEM")
    top.add_argument("--insecure", action="store_true", help="do not verify the server")
    commands = top.add_subparsers(dest="command", required=True)

    def command(name: str, func: Any, help: str, *positional: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        for arg in positional:
            sub.add_argument(arg)
        sub.set_defaults(func=func)
        return sub

    command("info", cmd_info, "the connectors and configurations the server holds")
    test = command("test", cmd_test, "test a configuration against its resource (IDM's report)")
    test.add_argument("config", nargs="?", help="the configuration; none: every one, as a list")
    command("validate", cmd_validate, "validate a configuration", "config")
    command("schema", cmd_schema, "the schema a configuration's connector reports", "config")
    get = command("get", cmd_get, "read one object", "config", "object_class", "uid")
    get.add_argument("--attributes", help="attributes to return, comma-separated")
    search = command("search", cmd_search, "stream matching objects", "config", "object_class")
    search.add_argument("--query-filter", help='IDM _queryFilter, e.g. lastname eq "Lee"')
    search.add_argument("--page-size", type=int)
    search.add_argument("--cookie", help="pagedResultsCookie of the previous page")
    search.add_argument("--offset", type=int, help="pagedResultsOffset (from 1)")
    search.add_argument("--sort-keys", help="IDM _sortKeys: --sort-keys=lastname,-firstname")
    search.add_argument("--attributes", help="attributes to return, comma-separated")
    search.add_argument("--count-policy", choices=[p.value for p in CountPolicy])
    for name, func, help in (
        ("create", cmd_create, "create an object"),
        ("update", cmd_update, "replace (or --add / --remove) attribute values"),
    ):
        sub = command(name, func, help, "config", "object_class")
        if name == "update":
            sub.add_argument("uid")
            sub.add_argument("--revision")
            mode = sub.add_mutually_exclusive_group()
            mode.add_argument("--add", action="store_true", help="add values")
            mode.add_argument("--remove", action="store_true", help="remove values")
        sub.add_argument("--attr", action="append", default=[], metavar="NAME=VALUE")
        sub.add_argument("--json", help="attributes as a JSON object (or @file)")
    delete = command("delete", cmd_delete, "delete an object", "config", "object_class", "uid")
    delete.add_argument("--revision")
    sync = command(
        "sync",
        cmd_sync,
        "the latest sync token; with --token, the changes since it and the next token",
        "config",
        "object_class",
    )
    sync.add_argument("--token", help="the token of the previous poll (its value)")
    sync.add_argument("--follow", action="store_true", help="keep polling until Ctrl-C")
    sync.add_argument(
        "--interval", type=float, default=15.0, help="seconds between polls (default 15)"
    )
    sync.add_argument("--attributes", help="attributes to return, comma-separated")
    script = command("script", cmd_script, "run a script on the connector", "config")
    script.add_argument("--language", required=True)
    source = script.add_mutually_exclusive_group(required=True)
    source.add_argument("--text")
    source.add_argument("--file")
    script.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE")
    script.add_argument("--json", help="arguments as a JSON object (or @file)")
    return top


def prepare(args: argparse.Namespace) -> None:
    """Read the files the command names before any socket opens."""
    check_protocol(args)
    config = getattr(args, "config", None)
    args.inline_document = None
    if isinstance(config, str) and config.startswith("@"):
        try:
            args.inline_document = json.loads(Path(config[1:]).read_text())
        except ValueError as exc:
            raise UsageError(f"{config[1:]} is not JSON: {exc}") from None
        if not isinstance(args.inline_document.get("connectorRef"), dict) and not args.connector:
            raise UsageError(f"{config[1:]} has no connectorRef; give --connector")
    if getattr(args, "file", None):
        args.text = Path(args.file).read_text()
    # a filter that cannot be read is refused before anything connects
    query_filter = getattr(args, "query_filter", None)
    args.query = parse_query_filter(query_filter) if query_filter else True


async def run(args: argparse.Namespace, out: TextIO) -> None:
    async with await RcsClient.connect(
        args.url,
        read_key(args),
        protocol=args.protocol,
        ssl=ssl_context(args),
        auth="bearer" if args.bearer else "basic",
    ) as client:
        await args.func(client, args, out)


def _fail(message: str, status: int) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(status)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        prepare(args)
        asyncio.run(run(args, sys.stdout))
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Unix tools do. Point stdout at
        # /dev/null so the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except ConnectorException as exc:
        _fail(f"{exc.wire_class}: {exc.message}", 1)
    except (UsageError, QueryFilterError, ValidationError, OSError) as exc:
        wire = IllegalArgumentException.icf_class
        _fail(f"{wire}: {exc}", 2 if not isinstance(exc, OSError) else 1)
    except KeyboardInterrupt:
        if getattr(args, "follow", False):
            # Stopped between or during polls: every delta printed carries its token, and the
            # last token line printed resumes after everything before it.
            print("stopped", file=sys.stderr)
            return 0
        _fail("interrupted", 130)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
