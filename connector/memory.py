"""An in-memory connector: every SPI operation, no resource behind it.

It is the SPI's reference implementation (what each operation must do, cancellation included)
and the connector the benchmark and the README's "Try it" run against. Its objects live in a
`MemoryStore` that all instances of one configuration share, as a real connector's instances
share an HTTP session. A server hosts it only when its settings say so
(`connectorserver.memoryConnectorEnabled`, docs/configuration.md): it is a reference and a
demonstration, not a connector to leave open to every peer with the key.

Knobs, as configuration properties so that they work over the wire as well as in process, each
bounded: `seed` objects generated in the first object class (or `virtualObjects`, made up as a
search reaches them and never stored), `pageSize` objects per page, `pageDelayMs` before each
page. No knob makes it misbehave on purpose: the tests' fault injection is a subclass of their
own (`_enter` is where it acts). Work that grows with the data (seeding, filtering, sorting)
gives the event loop back every `_CHUNK` objects, so no frame can hold the server. Its scripts
(`echo`, `count`, `persist`) are fixed functions, not code: nothing a peer sends is evaluated.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Final

from connector.base import (
    Connector,
    ConnectorContext,
    CreateOp,
    DeleteOp,
    GetOp,
    SchemaOp,
    ScriptOnConnectorOp,
    SearchOp,
    SearchPage,
    SharedResources,
    SyncOp,
    SyncPage,
    TestOp,
    UpdateAttributeValuesOp,
    UpdateOp,
)
from connector.configuration import Configuration, Property
from protocol.configuration import ConnectorKey
from protocol.errors import (
    AlreadyExistsException,
    InvalidAttributeValueException,
    InvalidCredentialException,
    PreconditionFailedException,
    UnknownUidException,
    UnsupportedOperationException,
)
from protocol.filters import Filter, attributes_of, matcher
from protocol.schema import AttributeFlag, AttributeInfo, AttributeType, ObjectClassInfo, Schema
from protocol.values import (
    NAME,
    UID,
    Attributes,
    AttributeValue,
    ConnectorObject,
    CountPolicy,
    GuardedString,
    JsonValue,
    OperationOptions,
    SearchResult,
    SyncDelta,
    SyncDeltaType,
    SyncToken,
    Uid,
)

_CHUNK: Final = 1000
"""Objects handled between two returns to the event loop."""
_CANCELLED_KEPT: Final = 100
MAX_SEED: Final = 100_000
MAX_VIRTUAL_OBJECTS: Final = 1_000_000_000
MAX_PAGE_SIZE: Final = 1000
MAX_CHANGES: Final = 1_000
"""Changes kept for sync."""

ATTRIBUTES: Final = (
    AttributeInfo(name=NAME, flags=[AttributeFlag.REQUIRED]),
    AttributeInfo(name="firstname"),
    AttributeInfo(name="lastname"),
    AttributeInfo(name="phone"),
    AttributeInfo(name="lifecyclestage"),
    AttributeInfo(name="industry"),
    AttributeInfo(name="size", type=AttributeType.INTEGER),
    AttributeInfo(name="tags", flags=[AttributeFlag.MULTIVALUED]),
)
"""Every object class's attributes (the schema); other names are refused."""
_NAMES: Final = frozenset({UID, *(a.name for a in ATTRIBUTES)})


def _check_names(object_class: str, names: Iterable[str], where: str) -> None:
    """Refuse a name the schema does not list, rather than match or store nothing."""
    for name in names:
        if name not in _NAMES:
            raise InvalidAttributeValueException(
                f"{object_class} has no attribute '{name}' (in {where}); the valid names are "
                f"the attributes the schema lists for {object_class}"
            )


def _check_options(object_class: str, options: OperationOptions) -> None:
    _check_names(object_class, options.attributesToGet or [], "the attributes to get")
    _check_names(object_class, [k.field for k in options.sortKeys or []], "the sort keys")


class MemoryConfiguration(Configuration):
    """The knobs; the secrets are there to show how confidential properties travel."""

    objectClasses: list[str] = Property(
        default_factory=lambda: ["contact", "company"],
        order=1,
        help="The object classes the connector holds",
        display="Object Classes",
        group="Objects",
    )
    seed: int = Property(
        0,
        ge=0,
        le=MAX_SEED,
        order=2,
        help="Objects generated in the first object class at start",
        display="Seed Objects",
        group="Objects",
    )
    virtualObjects: int = Property(
        0,
        ge=0,
        le=MAX_VIRTUAL_OBJECTS,
        order=3,
        help="Objects of the first object class made up as a search reaches them, never stored "
        "(long streams in constant memory)",
        display="Virtual Objects",
        group="Objects",
    )
    pageSize: int = Property(
        100,
        ge=1,
        le=MAX_PAGE_SIZE,
        order=4,
        help="Objects per page of a search",
        display="Page Size",
        group="Behaviour",
    )
    pageDelayMs: float = Property(
        0.0,
        ge=0,
        le=60_000,
        order=5,
        help="A pause before each page",
        display="Page Delay (ms)",
        group="Behaviour",
    )
    apiKey: GuardedString | None = Property(
        None,
        confidential=True,
        order=8,
        help="When set, `test` checks expectedApiKey",
        display="API Key",
        group="Authentication",
    )
    expectedApiKey: GuardedString | None = Property(
        None,
        confidential=True,
        order=9,
        help="The key `test` expects apiKey to be",
        display="Expected API Key",
        group="Authentication",
    )


@dataclass
class MemoryStore(SharedResources):
    """The objects of one configuration, and a record of what happened to its instances."""

    objects: dict[str, dict[str, ConnectorObject]] = field(default_factory=dict)
    changes: deque[SyncDelta] = field(default_factory=lambda: deque(maxlen=MAX_CHANGES))
    """The latest changes, for sync (bounded: an older token cannot resume, see `sync`)."""
    last_change: int = 0
    next_uid: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    created: int = 0
    disposed: int = 0
    cancelled: list[str] = field(default_factory=list)
    """Operations stopped while they ran: cancelled (timeouts included), or, for a search,
    closed by the server because nobody wanted its results any more (the first hundred)."""
    started: asyncio.Event = field(default_factory=asyncio.Event)
    """Set whenever an operation starts running in a connector instance."""
    closed: bool = False

    async def aclose(self) -> None:
        self.closed = True

    def stopped(self, operation: str) -> None:
        if len(self.cancelled) < _CANCELLED_KEPT:
            self.cancelled.append(operation)


def seed_object(object_class: str, number: int) -> ConnectorObject:
    """The generated object number `number`: a contact-like record of a few attributes."""
    return ConnectorObject(
        objectClass=object_class,
        uid=Uid(value=str(number), revision="1"),
        name=f"user{number:07d}@example.com",
        attributes={
            "firstname": [f"First{number}"],
            "lastname": [f"Last{number % 1000}"],
            "phone": [f"+1-555-{number % 10000:04d}"],
            "lifecyclestage": ["lead"],
        },
    )


class MemoryConnector(
    Connector,
    TestOp,
    SchemaOp,
    CreateOp,
    GetOp,
    SearchOp,
    UpdateOp,
    UpdateAttributeValuesOp,
    DeleteOp,
    ScriptOnConnectorOp,
    SyncOp,
):
    """Holds objects in memory; searches page through them in uid order."""

    connector_key = ConnectorKey(
        bundleName="org.example.connectors.memory",
        bundleVersion="1.0.0.0",
        connectorName="org.example.connectors.memory.MemoryConnector",
    )
    display_name = "In-memory Connector"
    category = "test"
    configuration_class = MemoryConfiguration
    object_classes = ("contact", "company")
    reference = True

    def __init__(self, context: ConnectorContext, shared: SharedResources) -> None:
        super().__init__(context, shared)
        assert isinstance(shared, MemoryStore)
        assert isinstance(context.configuration, MemoryConfiguration)
        self.store = shared
        self.config = context.configuration

    @classmethod
    async def open_shared(cls, context: ConnectorContext) -> SharedResources:
        config = context.configuration
        assert isinstance(config, MemoryConfiguration)
        store = MemoryStore(objects={name: {} for name in config.objectClasses})
        if config.seed and config.objectClasses:
            first = config.objectClasses[0]
            for done in range(config.seed):
                number = next(store.next_uid)
                store.objects[first][str(number)] = seed_object(first, number)
                if done % _CHUNK == _CHUNK - 1:
                    await asyncio.sleep(0)
        return store

    # -- knobs ----------------------------------------------------------------------------

    async def _enter(self, operation: str) -> None:
        """`operation` starts running in this instance (a subclass may act here)."""
        self.store.started.set()

    async def _pause(self, operation: str) -> None:
        if self.config.pageDelayMs:
            try:
                await asyncio.sleep(self.config.pageDelayMs / 1000)
            except asyncio.CancelledError:
                self.store.stopped(operation)
                raise

    def _class(self, object_class: str) -> dict[str, ConnectorObject]:
        try:
            return self.store.objects[object_class]
        except KeyError:
            raise InvalidAttributeValueException(f"unknown object class {object_class!r}") from None

    # -- lifecycle ------------------------------------------------------------------------

    async def init(self) -> None:
        self.store.created += 1

    async def dispose(self) -> None:
        self.store.disposed += 1

    # -- operations -----------------------------------------------------------------------

    async def test(self) -> None:
        await self._enter("TEST")
        expected = self.config.expectedApiKey
        if expected is not None and self.config.apiKey != expected:
            raise InvalidCredentialException("apiKey is not the expected key")

    async def schema(self) -> Schema:
        await self._enter("SCHEMA")
        attributes = list(ATTRIBUTES)
        classes = [ObjectClassInfo(type=n, attributes=attributes) for n in self.store.objects]
        names = list(self.store.objects)
        return Schema(
            objectClasses=classes,
            supportedObjectClassesByOperation={op: names for op in sorted(OPERATIONS)},
        )

    async def create(
        self, object_class: str, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        await self._enter("CREATE")
        objects = self._class(object_class)
        _check_names(object_class, attributes, "the attributes to write")
        name = _single_name(attributes)
        if name is not None and any(o.name == name for o in objects.values()):
            raise AlreadyExistsException(f"{object_class} {name} already exists")
        uid = Uid(value=str(next(self.store.next_uid)), revision="1")
        rest = {k: list(v) for k, v in attributes.items() if k != NAME and v}
        obj = ConnectorObject(objectClass=object_class, uid=uid, name=name, attributes=rest)
        objects[uid.value] = obj
        self._record(SyncDeltaType.CREATE, obj)
        return uid

    async def get(
        self, object_class: str, uid: Uid, options: OperationOptions
    ) -> ConnectorObject | None:
        await self._enter("GET")
        _check_options(object_class, options)
        found = self._class(object_class).get(uid.value)
        virtual = self.config.virtualObjects
        if found is None and virtual and object_class == self.config.objectClasses[0]:
            number = int(uid.value) if uid.value.isdigit() else 0
            return seed_object(object_class, number) if 1 <= number <= virtual else None
        return found

    async def search(
        self, object_class: str, filter: Filter | None, options: OperationOptions
    ) -> AsyncIterator[SearchPage]:
        pages = self._search_pages(object_class, filter, options)
        try:
            async for page in pages:
                yield page
        except GeneratorExit:
            # The server closed the iteration at a page: the peer cancelled or went away.
            self.store.stopped("SEARCH")
            raise
        finally:
            await pages.aclose()

    async def _search_pages(
        self, object_class: str, filter: Filter | None, options: OperationOptions
    ) -> AsyncGenerator[SearchPage, None]:
        await self._enter("SEARCH")
        objects = self._class(object_class)
        _check_options(object_class, options)
        if filter is not None:
            _check_names(object_class, sorted(attributes_of(filter)), "the filter")
        if self.config.virtualObjects and object_class == self.config.objectClasses[0]:
            async for page in self._virtual_pages(object_class, filter):
                yield page
            return
        matching = await _matching(list(objects.values()), filter)
        for key in reversed(options.sortKeys or []):
            by_field = functools.partial(_sort_value, attribute=key.field)
            # A sort of many objects would hold the loop: it runs in a thread, on a list of
            # this search's own.
            await asyncio.to_thread(matching.sort, key=by_field, reverse=not key.ascending)
        start = _decode_cookie(options.pagedResultsCookie)
        if options.pagedResultsOffset is not None and options.pagedResultsOffset >= 1:
            start = options.pagedResultsOffset - 1
        end = len(matching) if options.pageSize is None else start + options.pageSize
        window = matching[start:end]
        step = self.config.pageSize
        for index in range(0, len(window), step):
            await self._pause("SEARCH")
            yield SearchPage(window[index : index + step])
        if options.pageSize is not None:
            remaining = max(len(matching) - end, 0)
            exact = options.totalPagedResultsPolicy == CountPolicy.EXACT
            yield SearchPage(
                [],
                SearchResult(
                    pagedResultsCookie=_encode_cookie(end) if remaining else None,
                    remainingPagedResults=remaining,
                    totalPagedResultsPolicy=CountPolicy.EXACT if exact else CountPolicy.NONE,
                    totalPagedResults=len(matching) if exact else SearchResult.NO_COUNT,
                ),
            )

    async def _virtual_pages(
        self, object_class: str, filter: Filter | None
    ) -> AsyncIterator[SearchPage]:
        step = self.config.pageSize
        keep = None if filter is None else matcher(filter)
        for start in range(1, self.config.virtualObjects + 1, step):
            await self._pause("SEARCH")
            stop = min(start + step, self.config.virtualObjects + 1)
            page = [seed_object(object_class, n) for n in range(start, stop)]
            yield SearchPage([o for o in page if keep is None or keep(o)])

    async def update(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        await self._enter("UPDATE")
        current = self._existing(object_class, uid)
        _check_names(object_class, attributes, "the attributes to write")
        merged = dict(current.attributes)
        for key, values in attributes.items():
            if key == NAME:
                continue
            if values:
                merged[key] = list(values)
            else:
                merged.pop(key, None)
        name = _single_name(attributes) if NAME in attributes else current.name
        return self._store_update(current, name, merged)

    async def add_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        await self._enter("UPDATE")
        current = self._existing(object_class, uid)
        _check_names(object_class, attributes, "the attributes to write")
        merged = dict(current.attributes)
        for key, values in attributes.items():
            have = list(merged.get(key, []))
            merged[key] = have + [v for v in values if v not in have]
        return self._store_update(current, current.name, merged)

    async def remove_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        await self._enter("UPDATE")
        current = self._existing(object_class, uid)
        _check_names(object_class, attributes, "the attributes to write")
        merged = dict(current.attributes)
        for key, values in attributes.items():
            kept = [v for v in merged.get(key, []) if v not in values]
            if kept:
                merged[key] = kept
            else:
                merged.pop(key, None)
        return self._store_update(current, current.name, merged)

    async def delete(self, object_class: str, uid: Uid, options: OperationOptions) -> None:
        await self._enter("DELETE")
        current = self._existing(object_class, uid)
        del self.store.objects[object_class][uid.value]
        self._record(SyncDeltaType.DELETE, current)

    async def run_script_on_connector(
        self,
        language: str,
        script: str,
        arguments: dict[str, JsonValue],
        options: OperationOptions,
    ) -> JsonValue:
        """`echo` returns its text and arguments; `count` counts the objects of a class;
        `persist` stores `arguments["value"]` as the configuration property the text names
        (as a connector keeps a rotated token, through `ConnectorContext.persist_property`)."""
        await self._enter("SCRIPT_ON_CONNECTOR")
        if language == "echo":
            return {"script": script, "arguments": arguments}
        if language == "count":
            return len(self._class(script.strip()))
        if language == "persist":
            persist = self.context.persist_property
            if persist is None:
                raise UnsupportedOperationException(
                    "this configuration came inline: the server cannot store its properties"
                )
            value = arguments.get("value")
            if not isinstance(value, str):
                raise InvalidAttributeValueException("persist takes a string argument `value`")
            await persist(script.strip(), GuardedString(value))
            return True
        raise UnsupportedOperationException(
            f"script language {language!r} (try echo, count, persist)"
        )

    async def sync(
        self, object_class: str, token: SyncToken | None, options: OperationOptions
    ) -> AsyncIterator[SyncPage]:
        await self._enter("SYNC")
        after = _sync_position(token)
        oldest = self.store.last_change - len(self.store.changes)
        if oldest > 0 and after < oldest:  # changes the token needs were dropped
            raise InvalidAttributeValueException(
                f"sync token {after} is older than the {MAX_CHANGES} changes this connector "
                "keeps; start again from latest_sync_token"
            )
        deltas = [
            d
            for d in self.store.changes
            if d.objectClass == object_class and int(d.token.value) > after
        ]
        step = self.config.pageSize
        for index in range(0, len(deltas), step):
            await self._pause("SYNC")
            yield SyncPage(deltas[index : index + step])
        yield SyncPage([], token=deltas[-1].token if deltas else token)

    async def latest_sync_token(self, object_class: str) -> SyncToken | None:
        await self._enter("SYNC")
        self._class(object_class)
        return SyncToken(value=self.store.last_change)

    # -- helpers --------------------------------------------------------------------------

    def _existing(self, object_class: str, uid: Uid) -> ConnectorObject:
        current = self._class(object_class).get(uid.value)
        if current is None:
            raise UnknownUidException(f"{object_class} {uid.value} does not exist")
        if uid.revision is not None and uid.revision != current.uid.revision:
            raise PreconditionFailedException(
                f"{object_class} {uid.value} is at revision {current.uid.revision}, "
                f"not {uid.revision}"
            )
        return current

    def _store_update(
        self, current: ConnectorObject, name: str | None, attributes: Attributes
    ) -> Uid:
        revision = str(int(current.uid.revision or "0") + 1)
        uid = Uid(value=current.uid.value, revision=revision)
        updated = ConnectorObject(
            objectClass=current.objectClass, uid=uid, name=name, attributes=attributes
        )
        self.store.objects[current.objectClass][uid.value] = updated
        self._record(SyncDeltaType.UPDATE, updated)
        return uid

    def _record(self, kind: SyncDeltaType, obj: ConnectorObject) -> None:
        self.store.last_change += 1
        token = SyncToken(value=self.store.last_change)
        after = None if kind is SyncDeltaType.DELETE else obj
        self.store.changes.append(
            SyncDelta(
                token=token,
                deltaType=kind,
                objectClass=obj.objectClass,
                uid=obj.uid,
                connectorObject=after,
            )
        )


OPERATIONS: Final = frozenset(
    {"TEST", "SCHEMA", "CREATE", "GET", "SEARCH", "UPDATE", "DELETE", "SCRIPT_ON_CONNECTOR", "SYNC"}
)


async def _matching(objects: list[ConnectorObject], filter: Filter | None) -> list[ConnectorObject]:
    """The objects `filter` keeps, giving the loop back every `_CHUNK` objects."""
    if filter is None:
        return objects
    kept = []
    keep = matcher(filter)
    for start in range(0, len(objects), _CHUNK):
        kept += [o for o in objects[start : start + _CHUNK] if keep(o)]
        if start + _CHUNK < len(objects):
            await asyncio.sleep(0)
    return kept


def _sync_position(token: SyncToken | None) -> int:
    """The change a sync token names; this connector's tokens are whole numbers."""
    if token is None:
        return 0
    value = token.value
    try:
        return int(value)
    except ValueError:
        raise InvalidAttributeValueException(
            f"sync token {value!r} is not one of this connector's: it takes the whole number "
            "latest_sync_token or a sync answered"
        ) from None


def _single_name(attributes: Attributes) -> str | None:
    values = attributes.get(NAME)
    if not values:
        return None
    if len(values) != 1 or not isinstance(values[0], str):
        raise InvalidAttributeValueException(f"{NAME} takes one string value")
    return values[0]


def _sort_value(obj: ConnectorObject, attribute: str) -> tuple[int, str]:
    values: list[AttributeValue] | None = obj.values(attribute)
    first = values[0] if values else None
    return (0, "") if first is None else (1, str(first))


def _encode_cookie(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")


def _decode_cookie(cookie: str | None) -> int:
    if not cookie:
        return 0
    try:
        padded = cookie + "=" * (-len(cookie) % 4)
        return max(int(base64.urlsafe_b64decode(padded).decode()), 0)
    except ValueError:
        raise InvalidAttributeValueException("pagedResultsCookie is not one of ours") from None
