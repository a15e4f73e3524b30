"""A connector's Configuration: a pydantic model whose fields carry ICF property metadata.

ICF describes each configuration property with `ConfigurationProperty{order, required,
confidential, helpMessageKey, displayMessageKey, groupMessageKey, type}` (docs/openicf.md §1.4);
IDM shows them and the server answers CONNECTOR_INFO with them. Here a property is a field
declared with `Property(...)`. Values arrive as IDM provisioner files write them, strings
included (`"10"`, `"true"`): validation is lax on purpose, and it reports every wrong property
at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from protocol.errors import ConfigurationException
from protocol.info import ConfigurationPropertyInfo
from protocol.values import GuardedString

_META = "icf"


def Property(
    default: Any = ...,
    *,
    required: bool = False,
    confidential: bool = False,
    help: str | None = None,
    display: str | None = None,
    group: str | None = None,
    order: int = 0,
    **field_kwargs: Any,
) -> Any:
    """Declare a configuration property with its ICF metadata."""
    extra: dict[str, Any] = {
        _META: {
            "required": required,
            "confidential": confidential,
            "help": help,
            "display": display,
            "group": group,
            "order": order,
        }
    }
    return Field(
        default,
        description=help,
        json_schema_extra=extra,
        **field_kwargs,
    )


def _meta(field: FieldInfo) -> dict[str, Any]:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get(_META), dict):
        return extra[_META]  # type: ignore[return-value]
    return {"required": field.is_required(), "confidential": False, "order": 0}


def _type_name(annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in {list, tuple, set} and args:
        return f"array<{_type_name(args[0])}>"
    if args and get_origin(annotation) is not None:
        return _type_name(args[0])
    return {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        GuardedString: "guardedString",
    }.get(annotation, "string")


class Configuration(BaseModel):
    """Base of every connector's configuration. Subclasses declare fields with `Property`."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> Self:
        """Build a configuration from `configurationProperties`, or raise one
        `ConfigurationException` that names every wrong property (never its value)."""
        try:
            return cls.model_validate(dict(properties))
        except ValidationError as exc:
            problems = []
            for error in exc.errors(include_url=False, include_input=False):
                where = ".".join(str(part) for part in error["loc"]) or "configuration"
                problems.append(f"{where}: {error['msg']}")
            raise ConfigurationException("invalid configuration: " + "; ".join(problems)) from None

    @classmethod
    def property_infos(cls) -> list[ConfigurationPropertyInfo]:
        """The properties as CONNECTOR_INFO describes them; secrets' defaults stay out."""
        infos = []
        for name, field in cls.model_fields.items():
            meta = _meta(field)
            default = None if field.is_required() else field.get_default(call_default_factory=True)
            if meta["confidential"] or isinstance(default, GuardedString):
                default = None
            infos.append(
                ConfigurationPropertyInfo(
                    name=name,
                    type=_type_name(field.annotation),
                    required=bool(meta["required"]),
                    confidential=bool(meta["confidential"]),
                    defaultValue=default,
                    displayName=meta.get("display") or name,
                    helpMessage=meta.get("help"),
                    group=meta.get("group"),
                    order=int(meta["order"]),
                )
            )
        return sorted(infos, key=lambda info: (info.order, info.name))

    @classmethod
    def confidential_properties(cls) -> frozenset[str]:
        """The names of the properties kept secret (encrypted at rest, GuardedString in memory)."""
        return frozenset(
            name for name, field in cls.model_fields.items() if _meta(field)["confidential"]
        )
