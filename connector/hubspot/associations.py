"""Contacts tied to companies, as attributes (docs/hubspot.md §5.2).

- a contact's `companies`: the ids of every company it is associated with (multi-valued);
- a contact's `primaryCompany`: the id of its primary company (type 1), if any;
- a company's `contacts`: the ids of every contact associated with it (multi-valued).

They are read through HubSpot's v4 associations API only when a read names them in
`attributesToGet` (they are NOT_RETURNED_BY_DEFAULT), one batch read per 1,000 objects, so a full
read costs what it cost before. Writes associate and dissociate: a REPLACE sets the list (adding
the unlabeled association, 279/280, for new ids, and removing every type for dropped ones), ADD
and REMOVE add or remove ids. A primary company is a label: setting `primaryCompany` puts label
1 on that company (HubSpot moves it from any other), clearing it removes the label only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from connector.base import SearchPage
from connector.hubspot.http import HubspotHttp
from connector.hubspot.records import CrmObjects
from connector.hubspot.schema import COMPANY, CONTACT
from protocol.errors import (
    InvalidAttributeValueException,
    PreconditionFailedException,
    UnknownUidException,
)
from protocol.filters import Filter, attributes_of
from protocol.schema import AttributeFlag, AttributeInfo, AttributeType
from protocol.values import Attributes, AttributeValue, ConnectorObject, OperationOptions, Uid

PRIMARY_TO_COMPANY: Final = 1
"""HubSpot's type id of a contact's primary company (docs/hubspot.md §5.2)."""
BATCH_READ_MAX: Final = 1000
BATCH_WRITE_MAX: Final = 100


@dataclass(frozen=True, slots=True)
class AssociationAttribute:
    """One association attribute of an object class."""

    name: str
    object_class: str
    to_path: str
    """The other end, as the v4 API names it (`companies`, `contacts`)."""
    primary_only: bool = False

    @property
    def multi_valued(self) -> bool:
        return not self.primary_only

    def attribute_info(self) -> AttributeInfo:
        flags = [AttributeFlag.NOT_RETURNED_BY_DEFAULT]
        if self.multi_valued:
            flags.insert(0, AttributeFlag.MULTIVALUED)
        return AttributeInfo(
            name=self.name, type=AttributeType.STRING, flags=flags, subtype="hubspotId"
        )


ASSOCIATION_ATTRIBUTES: Final[dict[str, dict[str, AssociationAttribute]]] = {
    CONTACT: {
        "companies": AssociationAttribute("companies", CONTACT, "companies"),
        "primaryCompany": AssociationAttribute(
            "primaryCompany", CONTACT, "companies", primary_only=True
        ),
    },
    COMPANY: {"contacts": AssociationAttribute("contacts", COMPANY, "contacts")},
}
_PATHS: Final = {CONTACT: "contacts", COMPANY: "companies"}


def association_names(object_class: str) -> frozenset[str]:
    return frozenset(ASSOCIATION_ATTRIBUTES.get(object_class, {}))


def split(object_class: str, attributes: Attributes) -> tuple[Attributes, Attributes]:
    """(HubSpot properties, association attributes) of a write."""
    names = association_names(object_class)
    properties = {k: v for k, v in attributes.items() if k not in names}
    associations = {k: v for k, v in attributes.items() if k in names}
    return properties, associations


def _ids(attribute: str, values: Sequence[AttributeValue]) -> list[str]:
    ids = []
    for value in values:
        text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
        if not text.isdigit():
            raise InvalidAttributeValueException(
                f"attribute '{attribute}' holds HubSpot ids (digits); got {value!r}"
            )
        ids.append(text)
    return list(dict.fromkeys(ids))


def _check_primary(name: str, ids: list[str], mode: str) -> None:
    if mode != "REPLACE":
        raise InvalidAttributeValueException(
            f"attribute '{name}' is single-valued; use a REPLACE update"
        )
    if len(ids) > 1:
        raise InvalidAttributeValueException(
            f"attribute '{name}' takes one company id, got {len(ids)}"
        )


class Associations:
    """Reads and writes the association attributes of contacts and companies."""

    def __init__(self, http: HubspotHttp) -> None:
        self.http = http

    async def read(
        self, object_class: str, ids: Sequence[str], wanted: Iterable[str]
    ) -> dict[str, dict[str, list[AttributeValue]]]:
        """id -> the wanted association attributes of that object (empty lists included)."""
        attrs = [ASSOCIATION_ATTRIBUTES[object_class][name] for name in wanted]
        if not attrs or not ids:
            return {}
        to_path = attrs[0].to_path
        links: dict[str, list[tuple[str, set[int]]]] = {i: [] for i in ids}
        from_path = _PATHS[object_class]
        for start in range(0, len(ids), BATCH_READ_MAX):
            batch = ids[start : start + BATCH_READ_MAX]
            pending: list[dict[str, Any]] = [{"id": i} for i in batch]
            while pending:
                answer = await self.http.request(
                    "POST",
                    f"/crm/v4/associations/{from_path}/{to_path}/batch/read",
                    json_body={"inputs": pending},
                    expect=frozenset({207}),
                    action=f"read the {to_path} of {len(pending)} {from_path}",
                )
                pending = []
                for result in (answer.body or {}).get("results") or []:
                    from_id = str((result.get("from") or {}).get("id"))
                    for target in result.get("to") or []:
                        types = {int(t["typeId"]) for t in target.get("associationTypes") or []}
                        links.setdefault(from_id, []).append((str(target["toObjectId"]), types))
                    after = ((result.get("paging") or {}).get("next") or {}).get("after")
                    if after:
                        pending.append({"id": from_id, "after": after})
        out: dict[str, dict[str, list[AttributeValue]]] = {}
        for id_, targets in links.items():
            values: dict[str, list[AttributeValue]] = {}
            every: list[AttributeValue] = list(dict.fromkeys(t for t, _ in targets))
            primary: list[AttributeValue] = [t for t, k in targets if PRIMARY_TO_COMPANY in k]
            for attr in attrs:
                values[attr.name] = primary[:1] if attr.primary_only else every
            out[id_] = values
        return out

    async def attach(
        self, objects: Sequence[ConnectorObject], wanted: Iterable[str]
    ) -> list[ConnectorObject]:
        """The objects with the wanted association attributes added."""
        names = list(wanted)
        if not objects or not names:
            return list(objects)
        object_class = objects[0].objectClass
        read = await self.read(object_class, [o.uid.value for o in objects], names)
        return [
            o.model_copy(update={"attributes": {**o.attributes, **read.get(o.uid.value, {})}})
            for o in objects
        ]

    async def check(self, object_class: str, attributes: Attributes, *, mode: str) -> None:
        """Refuse what cannot be written, and ids of objects HubSpot does not have, before
        anything is written (one batch read per 100 ids), so a write is not left half done."""
        if not attributes:
            return  # nothing to link (an object class without links, or one HubSpot lacks)
        table = ASSOCIATION_ATTRIBUTES[object_class]
        by_path: dict[str, list[str]] = {}
        for name, values in attributes.items():
            ids = _ids(name, values)
            if table[name].primary_only:
                _check_primary(name, ids, mode)
            if mode != "REMOVE":
                by_path.setdefault(table[name].to_path, []).extend(ids)
        for to_path, ids in by_path.items():
            ids = list(dict.fromkeys(ids))
            for start in range(0, len(ids), BATCH_WRITE_MAX):
                batch = ids[start : start + BATCH_WRITE_MAX]
                answer = await self.http.request(
                    "POST",
                    f"/crm/v3/objects/{to_path}/batch/read",
                    json_body={"inputs": [{"id": i} for i in batch], "properties": []},
                    expect=frozenset({207, 404}),
                    action=f"look up {to_path} {', '.join(batch)}",
                )
                found = {str(r.get("id")) for r in (answer.body or {}).get("results") or []}
                missing = [i for i in batch if i not in found]
                if missing:
                    raise UnknownUidException(
                        f"HubSpot has no {to_path} {', '.join(missing)}; nothing was written"
                    )

    async def write(
        self, object_class: str, id_: str, attributes: Attributes, *, mode: str
    ) -> None:
        """Apply association attributes: mode REPLACE, ADD or REMOVE."""
        table = ASSOCIATION_ATTRIBUTES[object_class]
        for name, values in attributes.items():
            attr = table[name]
            ids = _ids(name, values)
            if attr.primary_only:
                _check_primary(name, ids, mode)
                await self._set_primary(id_, ids[0] if ids else None)
                continue
            if mode == "ADD":
                await self._associate(object_class, id_, attr.to_path, ids)
            elif mode == "REMOVE":
                await self._dissociate(object_class, id_, attr.to_path, ids)
            else:
                current = await self.read(object_class, [id_], [name])
                have = [str(v) for v in current.get(id_, {}).get(name, [])]
                await self._associate(
                    object_class, id_, attr.to_path, [i for i in ids if i not in have]
                )
                await self._dissociate(
                    object_class, id_, attr.to_path, [i for i in have if i not in ids]
                )

    async def _associate(self, object_class: str, id_: str, to_path: str, ids: list[str]) -> None:
        from_path = _PATHS[object_class]
        for start in range(0, len(ids), BATCH_WRITE_MAX):
            batch = ids[start : start + BATCH_WRITE_MAX]
            answer = await self.http.request(
                "POST",
                f"/crm/v4/associations/{from_path}/{to_path}/batch/associate/default",
                json_body={"inputs": [{"from": {"id": id_}, "to": {"id": i}} for i in batch]},
                expect=frozenset({404}),
                action=f"associate {object_class} {id_} with {to_path} {', '.join(batch)}",
            )
            if answer.status == 404:
                raise UnknownUidException(
                    f"cannot associate {object_class} {id_} with {to_path} "
                    f"{', '.join(batch)}: HubSpot has no such object"
                )

    async def _dissociate(self, object_class: str, id_: str, to_path: str, ids: list[str]) -> None:
        if not ids:
            return
        from_path = _PATHS[object_class]
        for start in range(0, len(ids), BATCH_WRITE_MAX):
            batch = ids[start : start + BATCH_WRITE_MAX]
            await self.http.request(
                "POST",
                f"/crm/v4/associations/{from_path}/{to_path}/batch/archive",
                json_body={"inputs": [{"from": {"id": id_}, "to": [{"id": i} for i in batch]}]},
                action=f"dissociate {object_class} {id_} from {to_path} {', '.join(batch)}",
            )

    async def _set_primary(self, contact_id: str, company_id: str | None) -> None:
        if company_id is not None:
            answer = await self.http.request(
                "PUT",
                f"/crm/v4/objects/contacts/{contact_id}/associations/companies/{company_id}",
                json_body=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
                expect=frozenset({404}),
                action=f"make company {company_id} the primary company of contact {contact_id}",
            )
            if answer.status == 404:
                raise UnknownUidException(
                    f"cannot make company {company_id} the primary company of contact "
                    f"{contact_id}: HubSpot has no such object"
                )
            return
        current = await self.read(CONTACT, [contact_id], ["primaryCompany"])
        for primary in current.get(contact_id, {}).get("primaryCompany", []):
            await self.http.request(
                "POST",
                "/crm/v4/associations/contacts/companies/batch/labels/archive",
                json_body={
                    "inputs": [
                        {
                            "from": {"id": contact_id},
                            "to": {"id": str(primary)},
                            "types": [
                                {
                                    "associationCategory": "HUBSPOT_DEFINED",
                                    "associationTypeId": PRIMARY_TO_COMPANY,
                                }
                            ],
                        }
                    ]
                },
                action=f"clear the primary company of contact {contact_id}",
            )


class LinkedObjects:
    """Contacts and companies with their association attributes: the property part of each
    operation goes to `CrmObjects`, the association part to `Associations`."""

    def __init__(self, objects: CrmObjects, associations: Associations) -> None:
        self.objects = objects
        self.associations = associations
        self.http = associations.http

    @staticmethod
    def _strip(object_class: str, options: OperationOptions) -> tuple[OperationOptions, list[str]]:
        """Options without the association attributes, and those asked for."""
        wanted = options.attributesToGet
        names = association_names(object_class)
        if wanted is None or names.isdisjoint(wanted):
            return options, []
        rest = [a for a in wanted if a not in names]
        links = [a for a in wanted if a in names]
        return options.model_copy(update={"attributesToGet": rest}), links

    async def get(
        self, object_class: str, uid: Uid, options: OperationOptions
    ) -> ConnectorObject | None:
        options, links = self._strip(object_class, options)
        found = await self.objects.get(object_class, uid, options)
        if found is None or not links:
            return found
        return (await self.associations.attach([found], links))[0]

    async def search(
        self, object_class: str, filter: Filter | None, options: OperationOptions
    ) -> AsyncIterator[SearchPage]:
        names = association_names(object_class)
        if filter is not None and not names.isdisjoint(attributes_of(filter)):
            raise InvalidAttributeValueException(
                f"HubSpot cannot search on {', '.join(sorted(names & attributes_of(filter)))}; "
                "read the objects and filter on them, or search the other side"
            )
        options, links = self._strip(object_class, options)
        async for page in self.objects.search(object_class, filter, options):
            if links and page.objects:
                objects = await self.associations.attach(page.objects, links)
                page = SearchPage(objects, page.result, page.exact)
            yield page

    async def create(
        self, object_class: str, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        properties, links = split(object_class, attributes)
        links = {k: v for k, v in links.items() if v}
        await self.associations.check(object_class, links, mode="REPLACE")
        uid = await self.objects.create(object_class, properties, options)
        if not links:
            return uid
        await self.associations.write(object_class, uid.value, links, mode="REPLACE")
        return await self._revision(object_class, uid)

    async def update(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        return await self._modify(object_class, uid, attributes, options, mode="REPLACE")

    async def add_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        return await self._modify(object_class, uid, attributes, options, mode="ADD")

    async def remove_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        return await self._modify(object_class, uid, attributes, options, mode="REMOVE")

    async def _modify(
        self,
        object_class: str,
        uid: Uid,
        attributes: Attributes,
        options: OperationOptions,
        *,
        mode: str,
    ) -> Uid:
        """The properties through `CrmObjects` (which checks the revision), then the links."""
        properties, links = split(object_class, attributes)
        await self.associations.check(object_class, links, mode=mode)
        if properties or not links:
            write = {
                "REPLACE": self.objects.update,
                "ADD": self.objects.add_attribute_values,
                "REMOVE": self.objects.remove_attribute_values,
            }[mode]
            uid = await write(object_class, uid, properties, options)
        elif uid.revision is not None:
            await self._check(object_class, uid)
        if not links:
            return uid
        await self.associations.write(object_class, uid.value, links, mode=mode)
        return await self._revision(object_class, uid)

    async def delete(self, object_class: str, uid: Uid, options: OperationOptions) -> None:
        await self.objects.delete(object_class, uid, options)

    async def _check(self, object_class: str, uid: Uid) -> None:
        current = await self.objects.get(
            object_class, Uid(value=uid.value), OperationOptions(attributesToGet=[])
        )
        if current is None:
            raise UnknownUidException(f"HubSpot has no {object_class} {uid.value}")
        if current.uid.revision != uid.revision:
            raise PreconditionFailedException(
                f"{object_class} {uid.value} changed since revision {uid.revision} "
                f"(now {current.uid.revision})"
            )

    async def _revision(self, object_class: str, uid: Uid) -> Uid:
        """The Uid with the revision the association writes left (they move it)."""
        current = await self.objects.get(
            object_class, Uid(value=uid.value), OperationOptions(attributesToGet=[])
        )
        return current.uid if current is not None else Uid(value=uid.value)


def association_attribute_infos() -> dict[str, list[AttributeInfo]]:
    """The association attributes each object class lists in the schema."""
    return {c: [a.attribute_info() for a in t.values()] for c, t in ASSOCIATION_ATTRIBUTES.items()}
