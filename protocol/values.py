"""The typed value model: what a connector object, its attributes and a search result look like.

Shapes follow OpenICF's `CommonObjectMessages.proto` and ICF's object model (docs/openicf.md §1.4,
§5), written as plain JSON: an attribute is a name and a list of values, as in ICF, so a
multi-valued attribute and a cleared one (`[]`) are never ambiguous.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

UID: Final = "__UID__"
"""ICF's special name of the unique id attribute (`Uid.NAME`)."""
NAME: Final = "__NAME__"
"""ICF's special name of the naming attribute (`Name.NAME`)."""

GUARDED_KEY: Final = "$guarded"


class GuardedString:
    """A secret value that never shows itself.

    ICF's GuardedString keeps a secret encrypted in memory and hands it out only through an
    accessor (docs/openicf.md §1.12). Python cannot wipe memory, so this class guards the other
    leak paths: `repr`, `str`, f-strings, logging and error texts all show `***`, and the value
    comes out only through `reveal()`, at the moment of use. On the wire it is the explicit
    object `{"$guarded": "..."}`, so a peer can tell a secret from a plain string.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("GuardedString holds a str")
        self._value = value

    def reveal(self) -> str:
        """The secret itself; call it where the secret is used, nowhere else."""
        return self._value

    def __repr__(self) -> str:
        return "GuardedString('***')"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GuardedString):
            return NotImplemented
        import hmac

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((GuardedString, self._value))

    def __copy__(self) -> GuardedString:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> GuardedString:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("GuardedString cannot be pickled")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def from_wire(value: Any) -> GuardedString:
            if isinstance(value, GuardedString):
                return value
            if isinstance(value, str):
                # A plain string where a secret is expected (an IDM provisioner file as written
                # by hand): take it, and guard it from here on.
                return cls(value)
            if isinstance(value, dict) and set(value) == {GUARDED_KEY}:
                inner = value[GUARDED_KEY]
                if isinstance(inner, str):
                    return cls(inner)
            raise ValueError('a guarded value is {"$guarded": "<string>"} or a string')

        def to_wire(value: GuardedString) -> dict[str, str]:
            return {GUARDED_KEY: value.reveal()}

        return core_schema.no_info_plain_validator_function(
            from_wire,
            serialization=core_schema.plain_serializer_function_ser_schema(to_wire),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "object",
            "title": "GuardedString",
            "description": "A secret; its text never appears in logs or error messages.",
            "properties": {GUARDED_KEY: {"type": "string", "writeOnly": True}},
            "required": [GUARDED_KEY],
            "additionalProperties": False,
        }


AttributeValue: TypeAlias = Annotated[
    str | bool | int | float | GuardedString | None, Field(union_mode="left_to_right")
]
"""One value of an attribute: the JSON scalars, or a secret.

The members are tried in order, each strictly: a JSON string stays a `str` (GuardedString's own
validator would take a bare string too, and pydantic's smart union picked it), `true` stays a
`bool` rather than an `int`, and only `{"$guarded": ...}` becomes a GuardedString.
"""

JsonValue: TypeAlias = Any
"""Free JSON (script arguments and results): checked as JSON by the codec, not typed further."""


class _Model(BaseModel):
    """Frame parts refuse unknown fields, so a typo gets an error that names it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


class Uid(_Model):
    """`Uid{value, revision}`: the object's id and, when the resource has one, its revision."""

    value: str = Field(min_length=1)
    revision: str | None = None


class ConnectorObject(_Model):
    """One object of a resource: its class, `Uid`, `Name` and other attributes.

    `attributes` never holds `__UID__` or `__NAME__`: they have their own fields.
    """

    objectClass: str = Field(min_length=1)
    uid: Uid
    name: str | None = None
    attributes: dict[str, list[AttributeValue]] = Field(default_factory=dict)

    def values(self, attribute: str) -> list[AttributeValue] | None:
        """The values of `attribute` (the special names included), or None when absent."""
        if attribute == UID:
            return [self.uid.value]
        if attribute == NAME:
            return None if self.name is None else [self.name]
        return self.attributes.get(attribute)


class CountPolicy(StrEnum):
    """`SearchResult.CountPolicy`: how `totalPagedResults` was counted."""

    NONE = "NONE"
    ESTIMATE = "ESTIMATE"
    EXACT = "EXACT"


class SearchResult(_Model):
    """The last part of a search: where the next page starts and how many remain.

    The defaults are OpenICF's `SearchResult()`: no cookie, no count (`-1`). A `None` cookie
    means there is no further page.
    """

    NO_COUNT: ClassVar[int] = -1

    pagedResultsCookie: str | None = None
    remainingPagedResults: int = -1
    totalPagedResultsPolicy: CountPolicy = CountPolicy.NONE
    totalPagedResults: int = -1


class SortKey(_Model):
    """`SortKey{field, isAscending}`."""

    field: str = Field(min_length=1)
    ascending: bool = True


class OperationOptions(_Model):
    """The operation options IDM sends (OpenICF `OperationOptions`, docs/openicf.md §5).

    `pagedResultsOffset` counts from 1 as in ICF; absent or below 1 means the page after the
    cookie.
    """

    attributesToGet: list[str] | None = None
    pageSize: Annotated[int, Field(ge=1)] | None = None
    pagedResultsCookie: str | None = None
    pagedResultsOffset: int | None = None
    sortKeys: list[SortKey] | None = None
    totalPagedResultsPolicy: CountPolicy | None = None
    allowPartialResults: bool | None = None


class SyncToken(_Model):
    """A resource's position in its change log; opaque to everyone but its connector."""

    value: str | int


class SyncDeltaType(StrEnum):
    CREATE_OR_UPDATE = "CREATE_OR_UPDATE"
    DELETE = "DELETE"
    CREATE = "CREATE"
    UPDATE = "UPDATE"


class SyncDelta(_Model):
    """One change: its token, its kind, and the object after it (absent for a delete)."""

    token: SyncToken
    deltaType: SyncDeltaType
    objectClass: str
    uid: Uid
    previousUid: Uid | None = None
    connectorObject: ConnectorObject | None = None


class UpdateType(StrEnum):
    """`UpdateOpRequest.updateType`: replace values, or add to / remove from multi-valued ones."""

    REPLACE = "REPLACE"
    ADD = "ADD"
    REMOVE = "REMOVE"


Attributes: TypeAlias = dict[str, list[AttributeValue]]
"""Attributes to write: name -> values. An empty list clears the attribute (ICF update)."""

Locale: TypeAlias = Annotated[str, Field(pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$")]

OperationName: TypeAlias = Literal[
    "CREATE",
    "UPDATE",
    "DELETE",
    "GET",
    "SEARCH",
    "SYNC",
    "SCHEMA",
    "TEST",
    "VALIDATE",
    "AUTHENTICATE",
    "SCRIPT_ON_CONNECTOR",
    "SCRIPT_ON_RESOURCE",
    "RESOLVEUSERNAME",
]
"""ICF's `APIOperation` names, as IDM writes them in `operationTimeout` (docs/openicf.md §3.2);
no connector here resolves user names, so `RESOLVEUSERNAME` only ever keys a timeout."""
