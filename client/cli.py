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

Output is JSON on stdout: one document per line on a pipe, indented on a terminal
(`client.output`); a search writes its SearchResult last, as `{"searchResult": ...}`. Errors go
to stderr in one line, and the exit status says what kind (`client.exits`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from client import exits
from client.connection import CALL_TIMEOUT_S, DEFAULT_URL, Facade, RcsClient, tls_context
from client.exits import UsageError
from client.fastpath import raw_search
from client.idmnames import ObjectType, object_type
from client.output import Writer, info_table
from client.progress import Progress
from client.queryfilter import QueryFilterError, parse_query_filter
from client.rawparts import object_dicts
from client.status import connector_of, system_status, systems_status
from protocol.configuration import ConfigurationRef, ConnectorKey, InlineConfiguration
from protocol.errors import ConfigurationException, ConnectorException, UnknownUidException
from protocol.heap import settle_after_startup
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

PROG = "hubspot-rcs-client"
KEY_ENV = "RCS_KEY"
URL_ENV = "RCS_URL"


# -- arguments ----------------------------------------------------------------------------------


def parse_attributes(pairs: Sequence[str], document: str | None) -> Attributes:
    """`--attr name=value` (repeat a name for several values; `name:=JSON` for a typed value;
    `name=` alone for none) merged over `--json '{"name": value or [values]}'`."""
    attributes: dict[str, list[AttributeValue]] = {}
    if document is not None:
        try:
            text = Path(document[1:]).read_text() if document.startswith("@") else document
        except OSError as exc:
            raise UsageError(f"--json {document}: {exc.strerror}") from None
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
        try:
            return Path(args.key_file).read_text().strip()
        except OSError as exc:
            raise UsageError(f"--key-file {args.key_file}: {exc.strerror}") from None
    key = os.environ.get(KEY_ENV)
    if not key:
        raise UsageError(f"no key: give --key-file FILE, set {KEY_ENV}, or --key")
    return key


def ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.url.startswith("wss:"):
        if args.cafile or args.cert or args.insecure:
            raise UsageError("--cacert, --cert and --insecure are for a wss:// --url")
        return None
    if args.cert_key and not args.cert:
        raise UsageError("--cert-key needs --cert")
    try:
        return tls_context(
            cafile=args.cafile, certfile=args.cert, keyfile=args.cert_key, verify=not args.insecure
        )
    except ssl.SSLError as exc:
        raise UsageError(f"cannot use the TLS files: {exc.reason or exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from None


# -- output -------------------------------------------------------------------------------------


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
        facade = client.facade_for(key, inline)
    elif args.connector:
        facade = client.facade_for(parse_connector(args.connector), ConfigurationRef(name=config))
    else:
        facade = await client.facade(config)
    return facade


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


async def resolve_names(client: RcsClient, facade: Facade, args: argparse.Namespace) -> ObjectType:
    """The command's object class under IDM's names, refused with the valid ones listed when
    neither the configuration's objectTypes nor the connector know it."""
    declared = await idm_type(client, args)
    names = names_of(declared, args)
    await check_object_class(client, facade, names.native_type, args)
    return names


async def check_object_class(
    client: RcsClient, facade: Facade, object_class: str, args: argparse.Namespace
) -> None:
    """Refuse an object class the connector does not have, naming those it has."""
    name = facade.connector_key.connectorName
    info = next(
        (c for c in await client.connectors() if c.connectorKey.connectorName == name), None
    )
    known = info.objectClasses if info is not None else None
    if not known and args.protocol == "openicf":
        # The OpenICF wire's CONNECTOR_INFO lists no object classes; the schema does, so the
        # refusal reads the same on both wires.
        try:
            known = [o.type for o in (await facade.schema(timeout_s=args.timeout)).objectClasses]
        except ConnectorException:
            return  # no schema to check against: the connector will say what is wrong
    if not known or object_class in known:
        return
    raise UsageError(
        f"{args.object_class!r} is not an object class of configuration "
        f"{configuration_name(args)!r}; it has: {', '.join(known)}"
    )


def configuration_name(args: argparse.Namespace) -> str:
    """The configuration's name: CONFIG, or for `@file` the file's `name` (as IDM names it),
    else the file name without IDM's `provisioner.openicf-` prefix."""
    document = args.inline_document
    if document is None:
        return str(args.config)
    name = document.get("name")
    if isinstance(name, str) and name:
        return name
    stem = Path(args.config[1:]).stem
    return stem.removeprefix("provisioner.openicf-")


def show(obj: ConnectorObject, declared: ObjectType | None) -> Any:
    """An object under IDM's names where the configuration declares them, else as sent."""
    return declared.idm_object(obj) if declared is not None else dump(obj)


async def cmd_info(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    info = await client.connector_info()
    if not args.json:
        for line in info_table(info):
            out.line(line)
        return
    out.document(
        {
            "connectors": [dump(c) for c in info.connectorInfos or []],
            "configurations": [dump(c) for c in info.configurations or []],
        }
    )


async def cmd_test(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    """Print what IDM prints for `system/<name>?_action=test` (client.status); without a
    name, the list IDM prints for `system?_action=test`, one system per configuration."""
    if args.config is None:
        out.document(await systems_status(client, timeout_s=args.timeout))
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
    out.document(report)
    if failure is not None:
        raise failure
    if not enabled:
        raise ConfigurationException(f"configuration {name!r} is disabled (enabled: false)")


async def cmd_validate(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    await (await facade_for(client, args)).validate(timeout_s=args.timeout)
    out.document({"ok": True})


async def cmd_schema(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    out.document(dump(await (await facade_for(client, args)).schema(timeout_s=args.timeout)))


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


async def cmd_get(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    facade = await facade_for(client, args)
    names = await resolve_names(client, facade, args)
    declared = await idm_type(client, args)
    found = await facade.get(
        names.native_type, args.uid, _options(args, names), timeout_s=args.timeout
    )
    if found is None:
        raise UnknownUidException(f"no {args.object_class} with uid {args.uid}")
    out.document(show(found, declared))


async def cmd_search(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    facade = await facade_for(client, args)
    query = args.query
    names = await resolve_names(client, facade, args)
    declared = await idm_type(client, args)
    options = _options(args, names)
    if query is False:  # IDM answers `false` without asking the connector
        out.search_result(dump(SearchResult()))
        return
    progress = Progress(sys.stderr)
    flt = None if query is True else names.filter(query)
    # Objects as the wire's JSON, printed without becoming models (client/fastpath.py).
    search = raw_search(facade, names.native_type, flt, options, timeout_s=args.timeout)
    async with search as results:
        try:
            async for page in results.pages():
                if declared is None:
                    out.object_lines(page)
                else:
                    out.documents([declared.idm_dict(o) for o in object_dicts(page)])
                progress.update(results.count, results.scanned)
        finally:
            progress.done(results.count, results.scanned, complete=results.result is not None)
    result = results.result
    out.search_result(dump(result) if result else {})
    wanted = options.totalPagedResultsPolicy == CountPolicy.EXACT
    if wanted and (result is None or result.totalPagedResultsPolicy != CountPolicy.EXACT):
        raise CountRefused(
            "--count-policy EXACT: the connector did not count the matches for this search "
            "(its SearchResult has no exact totalPagedResults)"
        )


class CountRefused(Exception):
    """A count asked for and not given: the objects were written, the count was not."""


async def cmd_create(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    facade = await facade_for(client, args)
    names = await resolve_names(client, facade, args)
    attributes = names.attributes(parse_attributes(args.attr, args.json))
    out.document(dump(await facade.create(names.native_type, attributes, timeout_s=args.timeout)))


async def cmd_update(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    facade = await facade_for(client, args)
    names = await resolve_names(client, facade, args)
    attributes = names.attributes(parse_attributes(args.attr, args.json))
    update_type = (
        UpdateType.ADD if args.add else UpdateType.REMOVE if args.remove else (UpdateType.REPLACE)
    )
    uid = Uid(value=args.uid, revision=args.revision)
    new = await facade.update(
        names.native_type, uid, attributes, update_type, timeout_s=args.timeout
    )
    out.document(dump(new))


async def cmd_delete(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    facade = await facade_for(client, args)
    names = await resolve_names(client, facade, args)
    uid = Uid(value=args.uid, revision=args.revision)
    await facade.delete(names.native_type, uid, timeout_s=args.timeout)
    out.document({})


async def cmd_script(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    facade = await facade_for(client, args)
    text = args.text
    arguments = {
        n: v[0] if len(v) == 1 else v for n, v in parse_attributes(args.arg, args.json).items()
    }
    out.document(
        await facade.script_on_connector(args.language, text, arguments, timeout_s=args.timeout)
    )


async def cmd_sync(client: RcsClient, args: argparse.Namespace, out: Writer) -> None:
    """No token: the latest token (IDM's first poll). A token: the deltas since it, one JSON
    line each, then `{"token": ...}`, where the next poll resumes. `--follow` polls every
    `--interval` seconds, as IDM's live-sync schedule does, until Ctrl-C."""
    facade = await facade_for(client, args)
    names = await resolve_names(client, facade, args)
    declared = await idm_type(client, args)
    options = _options(args, names)
    object_class = names.native_type
    token = None if args.token is None else SyncToken(value=_token_value(args.token))
    if token is None:
        token = await facade.latest_sync_token(object_class, timeout_s=args.timeout)
        out.document({"token": None if token is None else token.value})
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
                out.document(shown)
                token = delta.token
        token = deltas.token
        out.document({"token": None if token is None else token.value})
        out.flush()
        if not args.follow:
            return
        await asyncio.sleep(args.interval)


def _token_value(text: str) -> str | int:
    """A token printed as a number is a number (ICF tokens are strings or integers)."""
    return int(text) if text.isdigit() else text


# -- the parser -----------------------------------------------------------------------------------

CONFIG_HELP = (
    "a configuration the server holds (see info), e.g. hubspot; or @FILE to send a "
    "provisioner file inline as IDM does, e.g. @provisioner.openicf-hubspot.json"
)
ATTR_HELP = (
    "an attribute value, repeatable: name=value (text; repeat the name for several values), "
    'name:=JSON for a typed value (age:=42, tags:=\'["a","b"]\'), name= for none (clears it '
    "in an update); e.g. --attr __NAME__=ann@example.com --attr firstname=Ann (default: none)"
)
JSON_HELP = (
    "the attributes as one JSON object, or @FILE to read it, e.g. "
    '\'{"firstname": "Ann", "phone": null}\'; --attr values are added to it (default: none)'
)
ATTRIBUTES_HELP = (
    "the attributes to return, comma-separated, e.g. __NAME__,firstname (default: the "
    "connector's default set)"
)
REVISION_HELP = "the object's revision, for an update only if unchanged (default: none)"
EXIT_TABLE = "\n".join(f"  {status:<4} {meaning}" for status, meaning in exits.TABLE.items())


def version() -> str:
    try:
        return importlib.metadata.version("hubspot-rcs")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG,
        description="Talk to a hubspot-rcs connector server from the shell: JSON in, JSON out.",
        epilog=(
            f"The key comes from --key-file, ${KEY_ENV} or --key. Exit status:\n{EXIT_TABLE}\n\n"
            "Example: hubspot-rcs-client search hubspot contact --query-filter "
            "'lastname eq \"Lee\"'"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    top.add_argument(
        "--protocol",
        choices=["json", "openicf"],
        default="json",
        help="the wire: json (ours) or openicf (OpenICF 1.5, as IDM speaks it; CONFIG must "
        "then be @FILE, e.g. --protocol openicf test @provisioner.openicf-hubspot.json); "
        "default json",
    )
    top.add_argument(
        "--url",
        default=os.environ.get(URL_ENV, DEFAULT_URL),
        help=f"the server's WebSocket URL, ws://HOST:PORT/openicf or wss://... for TLS "
        f"(default ${URL_ENV}, else {DEFAULT_URL})",
    )
    top.add_argument(
        "--key", help=f"the shared key (default ${KEY_ENV}; visible to ps: prefer --key-file)"
    )
    top.add_argument("--key-file", help="a file holding the shared key (default: none)")
    top.add_argument(
        "--bearer",
        action="store_true",
        help="send the key as a Bearer token (default: HTTP Basic, as IDM does)",
    )
    top.add_argument(
        "--connector",
        help="the connector key, bundleName:bundleVersion:connectorName (default: the "
        "configuration's connectorRef, from the server)",
    )
    top.add_argument(
        "--timeout",
        type=float,
        help=f"seconds to wait for each answer, e.g. 30 (default {CALL_TIMEOUT_S:g})",
    )
    top.add_argument(
        "--cacert",
        "--cafile",
        dest="cafile",
        help="CA certificates (PEM) to verify a wss:// server with (default: the system's)",
    )
    top.add_argument("--cert", help="a client certificate, PEM, for mutual TLS (default: none)")
    top.add_argument(
        "--cert-key",
        help="the client certificate's private key, PEM (default: in the --cert file)",
    )
    top.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the wss:// server's certificate (default: verify)",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Any, help: str, *positional: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        for arg in positional:
            helps = {
                "config": CONFIG_HELP,
                "object_class": "the object class, e.g. contact or company (see schema)",
                "uid": "the object's uid, e.g. 1001",
            }
            sub.add_argument(arg, help=helps[arg])
        sub.set_defaults(func=func)
        return sub

    info = command("info", cmd_info, "the connectors and configurations the server holds")
    info.add_argument(
        "--json", action="store_true", help="print the whole answer as JSON (default: a table)"
    )
    test = command("test", cmd_test, "test a configuration against its resource (IDM's report)")
    test.add_argument(
        "config",
        nargs="?",
        help=CONFIG_HELP + " (default: every configuration the server holds, as a list)",
    )
    command("validate", cmd_validate, "validate a configuration", "config")
    command("schema", cmd_schema, "the schema a configuration's connector reports", "config")
    get = command("get", cmd_get, "read one object", "config", "object_class", "uid")
    get.add_argument("--attributes", help=ATTRIBUTES_HELP)
    search = command("search", cmd_search, "stream matching objects", "config", "object_class")
    search.add_argument(
        "--query-filter",
        help='IDM\'s _queryFilter, e.g. \'lastname eq "Lee" and email sw "ann"\' '
        "(default: every object)",
    )
    search.add_argument(
        "--page-size", type=int, help="objects per page, e.g. 100 (default: all, unpaged)"
    )
    search.add_argument(
        "--cookie", help="the pagedResultsCookie of the previous page (default: the first page)"
    )
    search.add_argument(
        "--offset", type=int, help="pagedResultsOffset, counting from 1 (default: none)"
    )
    search.add_argument(
        "--sort-keys",
        help="IDM's _sortKeys, a leading - for descending, e.g. --sort-keys=-lastname "
        "(default: the connector's order)",
    )
    search.add_argument("--attributes", help=ATTRIBUTES_HELP)
    search.add_argument(
        "--count-policy",
        choices=[p.value for p in CountPolicy],
        help="ask for a count of the matches: EXACT fails if the connector cannot count them "
        "(default: NONE)",
    )
    for name, func, help in (
        ("create", cmd_create, "create an object"),
        ("update", cmd_update, "replace (or --add / --remove) attribute values"),
    ):
        sub = command(name, func, help, "config", "object_class")
        if name == "update":
            sub.add_argument("uid", help="the object's uid, e.g. 1001")
            sub.add_argument("--revision", help=REVISION_HELP)
            mode = sub.add_mutually_exclusive_group()
            mode.add_argument(
                "--add",
                action="store_true",
                help="add the values to a multi-valued attribute (default: replace)",
            )
            mode.add_argument(
                "--remove",
                action="store_true",
                help="remove the values from a multi-valued attribute (default: replace)",
            )
        sub.add_argument(
            "--attr", action="append", default=[], metavar="NAME=VALUE", help=ATTR_HELP
        )
        sub.add_argument("--json", metavar="JSON|@FILE", help=JSON_HELP)
    delete = command("delete", cmd_delete, "delete an object", "config", "object_class", "uid")
    delete.add_argument("--revision", help=REVISION_HELP)
    sync = command(
        "sync",
        cmd_sync,
        "the latest sync token; with --token, the changes since it and the next token",
        "config",
        "object_class",
    )
    sync.add_argument(
        "--token",
        help="the token the previous poll printed, e.g. 1733011200000 (default: print the "
        "latest token, where a first poll starts)",
    )
    sync.add_argument(
        "--follow", action="store_true", help="keep polling until Ctrl-C (default: poll once)"
    )
    sync.add_argument(
        "--interval", type=float, default=15.0, help="seconds between polls (default 15)"
    )
    sync.add_argument("--attributes", help=ATTRIBUTES_HELP)
    script = command("script", cmd_script, "run a script on the connector", "config")
    script.add_argument(
        "--language", required=True, help="the script's language, e.g. python (required)"
    )
    source = script.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--text", help="the script itself, e.g. 'return arguments[\"n\"] + 1' (required, or --file)"
    )
    source.add_argument("--file", help="a file holding the script (required, or --text)")
    script.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a script argument, repeatable: name=text or name:=JSON, e.g. --arg n:=1 "
        "(default: none)",
    )
    script.add_argument(
        "--json",
        metavar="JSON|@FILE",
        help="the arguments as one JSON object, or @FILE (default: none)",
    )
    return top


def prepare(args: argparse.Namespace) -> None:
    """Check the command line and read the files it names before any socket opens."""
    exits.check_url(args.url)
    check_protocol(args)
    config = getattr(args, "config", None)
    args.inline_document = None
    if isinstance(config, str) and config.startswith("@"):
        try:
            args.inline_document = json.loads(Path(config[1:]).read_text())
        except OSError as exc:
            raise UsageError(f"{config[1:]}: {exc.strerror}") from None
        except ValueError as exc:
            raise UsageError(f"{config[1:]} is not JSON: {exc}") from None
        if not isinstance(args.inline_document, dict):
            raise UsageError(f"{config[1:]} is not a provisioner file (a JSON object)")
        if not isinstance(args.inline_document.get("connectorRef"), dict) and not args.connector:
            raise UsageError(f"{config[1:]} has no connectorRef; give --connector")
    if getattr(args, "file", None):
        try:
            args.text = Path(args.file).read_text()
        except OSError as exc:
            raise UsageError(f"--file {args.file}: {exc.strerror}") from None
    # a filter that cannot be read is refused before anything connects
    query_filter = getattr(args, "query_filter", None)
    args.query = parse_query_filter(query_filter) if query_filter else True


async def run(args: argparse.Namespace, out: Writer) -> None:
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
    args = parser().parse_args(argv)  # a wrong command line: argparse's message, status 2
    settle_after_startup()
    try:
        prepare(args)
        asyncio.run(run(args, Writer(sys.stdout)))
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Unix tools do. Point stdout at
        # /dev/null so the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exits.BROKEN_PIPE
    except ConnectorException as exc:
        status = exits.status_of(exc)
        if status == exits.CONNECTION:
            _fail(f"{PROG}: {exc.message}", status)
        _fail(f"{exc.wire_class}: {exc.message}", status)
    except (UsageError, QueryFilterError) as exc:
        where = "--query-filter: " if isinstance(exc, QueryFilterError) else ""
        _fail(f"{PROG}: {where}{exc}", exits.USAGE)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        _fail(f"{PROG}: {problems}", exits.USAGE)
    except CountRefused as exc:
        _fail(f"{PROG}: {exc}", exits.REFUSED)
    except KeyboardInterrupt:
        if getattr(args, "follow", False):
            # Stopped between or during polls: every delta printed carries its token, and the
            # last token line printed resumes after everything before it.
            print("stopped", file=sys.stderr)
            return exits.OK
        _fail(f"{PROG}: interrupted", exits.INTERRUPTED)
    return exits.OK


if __name__ == "__main__":
    raise SystemExit(main())
