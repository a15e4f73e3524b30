"""Search against the emulator: every filter kind gives exactly what local evaluation of the
filter over every object gives; paging, cookies, sorting, counts and the 10,000 cap."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, Sequence

import pytest

from connector.hubspot import HubspotConnector
from connector.hubspot.search import READ_AHEAD
from emulator import Emulator, EmulatorSettings
from protocol.errors import InvalidAttributeValueException
from protocol.filters import (
    And,
    Contains,
    ContainsAllValues,
    EndsWith,
    Equals,
    Filter,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Not,
    Or,
    Presence,
    Scalar,
    StartsWith,
    evaluate,
)
from protocol.values import ConnectorObject, GuardedString, OperationOptions, SortKey


async def read_all(
    connector: HubspotConnector,
    object_class: str,
    filter: Filter | None = None,
    options: OperationOptions | None = None,
) -> list[ConnectorObject]:
    found: list[ConnectorObject] = []
    async for page in connector.search(object_class, filter, options or OperationOptions()):
        found += page.objects
    return found


def ids(objects: Sequence[ConnectorObject]) -> list[str]:
    return [o.uid.value for o in objects]


def first(objects: Sequence[ConnectorObject], attribute: str) -> object:
    return next(v[0] for o in objects if (v := o.values(attribute)))


def contact_filters(everyone: list[ConnectorObject]) -> list[Filter]:
    """One or more filters of every kind, with values taken from the data."""
    name = str(first(everyone, "firstname"))
    email = str(everyone[3].name)
    city = str(first(everyone, "city"))
    stage = str(first(everyone, "lifecyclestage"))
    created = str(everyone[len(everyone) // 2].values("createdate")[0])  # type: ignore[index]
    company_id = first(everyone, "associatedcompanyid")
    uids = [o.uid.value for o in everyone[5:9]]
    return [
        Equals(attribute="__UID__", value=everyone[0].uid.value),
        Or(filters=[Equals(attribute="__UID__", value=u) for u in uids]),
        Equals(attribute="__NAME__", value=email),
        Equals(attribute="__NAME__", value=email.upper()),  # HubSpot matches; ICF must not
        Or(filters=[Equals(attribute="__NAME__", value=str(o.name)) for o in everyone[:3]]),
        Equals(attribute="firstname", value=name),
        Equals(attribute="firstname", value=name.lower()),
        Equals(attribute="lifecyclestage", value=stage),
        Equals(attribute="associatedcompanyid", value=company_id),  # type: ignore[arg-type]
        Equals(attribute="phone", value=None),
        Equals(attribute="hs_buying_role", value="CHAMPION"),
        ContainsAllValues(attribute="hs_buying_role", values=["CHAMPION", "END_USER"]),
        Presence(attribute="phone"),
        Not(filter=Presence(attribute="mobilephone")),
        StartsWith(attribute="firstname", value=name[:2]),
        StartsWith(attribute="__NAME__", value=email[:3]),
        EndsWith(attribute="__NAME__", value=email[email.index("@") :]),
        Contains(attribute="company", value="a"),
        Contains(attribute="jobtitle", value="Manager"),
        Contains(attribute="jobtitle", value="ng Ma"),
        GreaterThan(attribute="createdate", value=created),
        GreaterThanOrEqual(attribute="createdate", value=created),
        LessThan(attribute="createdate", value=created[:10]),
        LessThanOrEqual(attribute="createdate", value=created),
        GreaterThan(attribute="associatedcompanyid", value=company_id),  # type: ignore[arg-type]
        LessThan(attribute="lastname", value="M"),
        GreaterThan(attribute="__UID__", value=everyone[10].uid.value),
        Not(filter=Equals(attribute="city", value=city)),
        And(filters=[Equals(attribute="city", value=city), Presence(attribute="phone")]),
        Or(
            filters=[
                Equals(attribute="city", value=city),
                And(
                    filters=[
                        Equals(attribute="lifecyclestage", value=stage),
                        Not(filter=Presence(attribute="phone")),
                    ]
                ),
            ]
        ),
        Not(filter=Or(filters=[Presence(attribute="phone"), Equals(attribute="city", value=city)])),
        Or(
            filters=[
                Equals(attribute="city", value=str(c))
                for c in ("Paris", "Lyon", "Berlin", "Madrid", "Rome", "Oslo", city)
            ]
        ),
        And(
            filters=[
                Equals(attribute="__UID__", value=everyone[0].uid.value),
                Presence(attribute="fax"),
            ]
        ),
    ]


async def test_every_filter_kind_is_exact(connector: HubspotConnector, emu: Emulator) -> None:
    everyone = await read_all(connector, "contact")
    assert len(everyone) == len(emu.store.contacts)
    for node in contact_filters(everyone):
        expected = sorted(o.uid.value for o in everyone if evaluate(node, o))
        got = ids(await read_all(connector, "contact", node))
        assert sorted(got) == expected, node
        assert len(got) == len(set(got)), node


async def test_company_filters_are_exact(connector: HubspotConnector) -> None:
    everyone = await read_all(connector, "company")
    name = str(everyone[2].name)
    nodes: list[Filter] = [
        Equals(attribute="__NAME__", value=name),
        StartsWith(attribute="__NAME__", value=name[:3]),
        Equals(attribute="is_public", value=True),
        GreaterThanOrEqual(attribute="numberofemployees", value=100),
        Equals(attribute="industry", value=str(first(everyone, "industry"))),
    ]
    for node in nodes:
        expected = sorted(o.uid.value for o in everyone if evaluate(node, o))
        assert sorted(ids(await read_all(connector, "company", node))) == expected, node


async def test_the_cheapest_call_is_made(connector: HubspotConnector, emu: Emulator) -> None:
    everyone = await read_all(connector, "contact")

    async def calls_for(node: Filter) -> list[str]:
        before = len(emu.requests)
        await read_all(connector, "contact", node)
        return [f"{r.method} {r.path}" for r in emu.requests[before:]]

    uid = everyone[0].uid.value
    assert await calls_for(Equals(attribute="__UID__", value=uid)) == [
        f"GET /crm/v3/objects/contacts/{uid}"
    ]
    assert await calls_for(
        Or(filters=[Equals(attribute="__UID__", value=o.uid.value) for o in everyone[:3]])
    ) == ["POST /crm/v3/objects/contacts/batch/read"]
    assert await calls_for(Equals(attribute="__NAME__", value=str(everyone[1].name))) == [
        f"GET /crm/v3/objects/contacts/{everyone[1].name}"
    ]
    assert await calls_for(Presence(attribute="phone")) == ["POST /crm/v3/objects/contacts/search"]


async def test_attributes_to_get_become_the_properties_parameter(
    connector: HubspotConnector, emu: Emulator
) -> None:
    options = OperationOptions(attributesToGet=["firstname", "__NAME__"], pageSize=5)
    objects = await read_all(connector, "contact", None, options)
    query = emu.requests[-1].query
    assert "limit=5&properties=firstname,email,lastmodifieddate" in query
    assert "phone" not in objects[0].attributes and objects[0].name


@pytest.mark.parametrize("page_size", [1, 7, 100, 150])
@pytest.mark.parametrize("filtered", [False, True])
async def test_cookies_resume_where_the_last_page_ended(
    connector: HubspotConnector, page_size: int, filtered: bool
) -> None:
    node = Presence(attribute="firstname") if filtered else None
    everyone = ids(await read_all(connector, "contact", node))
    seen: list[str] = []
    cookie: str | None = None
    while True:
        pages = [
            p
            async for p in connector.search(
                "contact", node, OperationOptions(pageSize=page_size, pagedResultsCookie=cookie)
            )
        ]
        page = [o for p in pages for o in p.objects]
        result = pages[-1].result
        assert result is not None and len(page) <= page_size
        seen += ids(page)
        cookie = result.pagedResultsCookie
        if cookie is None:
            break
        if result.remainingPagedResults >= 0:
            assert result.remainingPagedResults == len(everyone) - len(seen)
    assert seen == everyone


async def test_exact_searches_report_the_total_and_remaining(connector: HubspotConnector) -> None:
    node = Not(filter=Presence(attribute="fax"))
    everyone = await read_all(connector, "contact", node)
    pages = [p async for p in connector.search("contact", node, OperationOptions(pageSize=4))]
    result = pages[-1].result
    assert result is not None
    assert result.totalPagedResults == len(everyone)
    assert result.remainingPagedResults == len(everyone) - 4


async def test_paged_results_offset_counts_from_one(connector: HubspotConnector) -> None:
    everyone = ids(await read_all(connector, "contact"))
    page = await read_all(
        connector, "contact", None, OperationOptions(pageSize=5, pagedResultsOffset=11)
    )
    assert ids(page) == everyone[10:15]
    node = Not(filter=Presence(attribute="fax"))
    matches = ids(await read_all(connector, "contact", node))
    options = OperationOptions(pageSize=5, pagedResultsOffset=11)
    pages = [p async for p in connector.search("contact", node, options)]
    assert [o.uid.value for p in pages for o in p.objects] == matches[10:15]
    result = pages[-1].result
    assert result is not None and result.remainingPagedResults == len(matches) - 15


async def test_a_whole_list_page_resumes_at_the_next(
    connector: HubspotConnector, emu: Emulator
) -> None:
    first = [p async for p in connector.search("contact", None, OperationOptions(pageSize=20))]
    cookie = first[-1].result.pagedResultsCookie if first[-1].result else None
    assert cookie is not None
    before = len(emu.requests)
    options = OperationOptions(pageSize=20, pagedResultsCookie=cookie)
    second = [
        o for p in [p async for p in connector.search("contact", None, options)] for o in p.objects
    ]
    assert len(second) == 20 and len(emu.requests) - before == 1  # one HubSpot page per IDM page


async def test_a_foreign_cookie_is_refused(connector: HubspotConnector) -> None:
    from protocol.errors import InvalidAttributeValueException

    with pytest.raises(InvalidAttributeValueException, match="pagedResultsCookie"):
        await read_all(connector, "contact", None, OperationOptions(pagedResultsCookie="nope"))


@pytest.mark.parametrize("ascending", [True, False])
async def test_sorting_on_one_key(connector: HubspotConnector, ascending: bool) -> None:
    options = OperationOptions(sortKeys=[SortKey(field="__UID__", ascending=ascending)])
    got = [int(u) for u in ids(await read_all(connector, "contact", None, options))]
    assert got == sorted(got, reverse=not ascending)
    options = OperationOptions(sortKeys=[SortKey(field="lastname", ascending=ascending)])
    names = [o.values("lastname") for o in await read_all(connector, "contact", None, options)]
    flat = [str(n[0]).lower() for n in names if n]
    assert flat == sorted(flat, reverse=not ascending)


async def test_more_than_one_sort_key_is_refused_clearly(connector: HubspotConnector) -> None:
    from protocol.errors import InvalidAttributeValueException

    options = OperationOptions(sortKeys=[SortKey(field="lastname"), SortKey(field="firstname")])
    with pytest.raises(InvalidAttributeValueException, match="one property"):
        await read_all(connector, "contact", None, options)


@pytest.mark.parametrize(
    "emulator_settings",
    [
        EmulatorSettings(
            contacts=650, companies=1, seed=5, rate_limits_enabled=False, search_result_cap=200
        )
    ],
)
async def test_a_search_past_the_result_cap_returns_every_match(
    connector: HubspotConnector, emu: Emulator
) -> None:
    """HubSpot stops a search at 10,000 results; here the emulator stops at 200."""
    node = Presence(attribute="__NAME__")
    got = ids(await read_all(connector, "contact", node))
    assert len(got) == len(set(got)) == len(emu.store.contacts)


@pytest.mark.parametrize(
    "emulator_settings",
    [EmulatorSettings(contacts=650, companies=1, seed=6, rate_limits_enabled=False)],
)
async def test_token_expiry_in_a_long_search_does_not_stop_it(
    connector: HubspotConnector, emu: Emulator
) -> None:
    seen: list[str] = []
    async for page in connector.search(
        "contact", Presence(attribute="__NAME__"), OperationOptions()
    ):
        seen += ids(page.objects)
        if len(seen) <= 200:
            assert emu.expire_access_tokens() == 1
    assert sorted(seen) == sorted(ids(await read_all(connector, "contact")))
    assert connector.http.tokens.refreshes == 2
    assert [r.status for r in emu.requests_to("/crm/v3/objects/contacts/search")].count(401) == 1


def random_filter(rng: random.Random, everyone: list[ConnectorObject], depth: int = 0) -> Filter:
    """A random filter over values found in the data (and a few that are not)."""
    if depth < 2 and rng.random() < 0.45:
        kind = rng.choice(["and", "or", "not"])
        if kind == "not":
            return Not(filter=random_filter(rng, everyone, depth + 1))
        children = [random_filter(rng, everyone, depth + 1) for _ in range(rng.randint(1, 4))]
        return And(filters=children) if kind == "and" else Or(filters=children)
    obj = rng.choice(everyone)
    attribute = rng.choice(
        ["__UID__", "__NAME__", "firstname", "lastname", "city", "lifecyclestage",
         "hs_buying_role", "associatedcompanyid", "createdate", "phone", "jobtitle"]
    )  # fmt: skip
    values: list[Scalar | None] = [
        v for v in obj.values(attribute) or [] if not isinstance(v, GuardedString)
    ] or [None]
    value = rng.choice(values)
    if isinstance(value, str) and rng.random() < 0.2:
        value = value.upper()
    text = value if isinstance(value, str) else str(value)
    cut = rng.randint(0, max(0, len(text) - 1))
    match rng.randrange(9):
        case 0 | 1:
            return Equals(attribute=attribute, value=value)
        case 2:
            return Presence(attribute=attribute)
        case 3:
            return StartsWith(attribute=attribute, value=text[: cut + 1])
        case 4:
            return EndsWith(attribute=attribute, value=text[cut:])
        case 5:
            return Contains(attribute=attribute, value=text[cut : cut + 3])
        case 6:
            bound = value if value is not None else "2024-06-01T00:00:00.000Z"
            return GreaterThan(attribute=attribute, value=bound)
        case 7:
            bound = value if value is not None else 5
            return LessThanOrEqual(attribute=attribute, value=bound)
        case _:
            return ContainsAllValues(
                attribute=attribute, values=[value if value is not None else "x"]
            )


async def test_random_filters_are_exact(connector: HubspotConnector) -> None:
    everyone = await read_all(connector, "contact")
    rng = random.Random(20261128)
    for _ in range(120):
        node = random_filter(rng, everyone)
        expected = sorted(o.uid.value for o in everyone if evaluate(node, o))
        got = ids(await read_all(connector, "contact", node))
        assert sorted(got) == expected, node.model_dump_json()
        assert len(got) == len(set(got))


LIST = "/crm/v3/objects/contacts"
TEN_PAGES = EmulatorSettings(contacts=1000, companies=1, seed=6, rate_limits_enabled=False)


def list_calls(emu: Emulator) -> int:
    return len([r for r in emu.requests_to(LIST) if r.method == "GET" and r.path == LIST])


async def settled(emu: Emulator, expected: int) -> int:
    """The list calls made, once `expected` have been made (or ten seconds have passed) and
    a moment more has shown no others follow."""
    for _ in range(200):
        if list_calls(emu) >= expected:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    return list_calls(emu)


@pytest.mark.parametrize("emulator_settings", [TEN_PAGES])
async def test_a_full_read_asks_for_pages_ahead_of_its_consumer_and_no_further(
    connector: HubspotConnector, emu: Emulator
) -> None:
    pages = connector.search("contact", None, OperationOptions())
    first = await anext(pages)
    assert len(first.objects) == 100
    # While the first page is with its consumer: two pages wait, and a third has been asked for.
    assert await settled(emu, 1 + READ_AHEAD + 1) == 1 + READ_AHEAD + 1
    rest = [obj async for page in pages for obj in page.objects]
    assert len(first.objects) + len(rest) == 1000
    assert list_calls(emu) == 10


@pytest.mark.parametrize("emulator_settings", [TEN_PAGES])
async def test_a_paged_search_reads_no_further_than_its_page(
    connector: HubspotConnector, emu: Emulator
) -> None:
    pages = connector.search("contact", None, OperationOptions(pageSize=100))
    assert isinstance(pages, AsyncGenerator)
    assert len((await anext(pages)).objects) == 100
    assert await settled(emu, 2) == 1
    await pages.aclose()


@pytest.mark.parametrize("emulator_settings", [TEN_PAGES])
async def test_a_failure_ahead_reaches_the_consumer_after_the_pages_before_it(
    connector: HubspotConnector, emu: Emulator
) -> None:
    emu.faults.add(status=400, skip=3, count=1, path_prefix=LIST, method="GET")
    seen: list[ConnectorObject] = []

    async def read() -> None:
        async for page in connector.search("contact", None, OperationOptions()):
            seen.extend(page.objects)

    with pytest.raises(InvalidAttributeValueException):
        await read()
    assert len(seen) == 300


@pytest.mark.parametrize("emulator_settings", [TEN_PAGES])
async def test_a_read_left_early_stops_reading_ahead(
    connector: HubspotConnector, emu: Emulator
) -> None:
    pages = connector.search("contact", None, OperationOptions())
    assert isinstance(pages, AsyncGenerator)
    await anext(pages)
    await pages.aclose()
    assert await settled(emu, 1 + READ_AHEAD + 1) <= 1 + READ_AHEAD + 1
