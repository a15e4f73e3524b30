"""Results handlers as resultsHandlerConfig switches them."""

from __future__ import annotations

from pydantic import TypeAdapter

from connector.base import SearchPage
from connector.results import ResultsHandler
from protocol.configuration import ResultsHandlerConfiguration
from protocol.filters import Filter
from protocol.values import ConnectorObject, OperationOptions, Uid

FILTER = TypeAdapter(Filter).validate_python(
    {"type": "startsWith", "attribute": "__NAME__", "value": "ann"}
)


def contact(uid: str, name: str) -> ConnectorObject:
    return ConnectorObject(
        objectClass="contact",
        uid=Uid(value=uid),
        name=name,
        attributes={"firstname": [name.title()], "phone": ["555"]},
    )


PAGE = [contact("1", "ann"), contact("2", "ANNA"), contact("3", "bob")]


def names(objects: object) -> list[str | None]:
    return [o.name for o in objects]  # type: ignore[attr-defined]


def test_an_exact_page_is_left_alone() -> None:
    handler = ResultsHandler(ResultsHandlerConfiguration(), FILTER, OperationOptions())
    assert names(handler.apply(SearchPage(PAGE))) == ["ann", "ANNA", "bob"]


def test_an_inexact_page_is_filtered_again() -> None:
    handler = ResultsHandler(ResultsHandlerConfiguration(), FILTER, OperationOptions())
    assert names(handler.apply(SearchPage(PAGE, exact=False))) == ["ann"]


def test_case_insensitive_filtering() -> None:
    config = ResultsHandlerConfiguration(enableCaseInsensitiveFilter=True)
    handler = ResultsHandler(config, FILTER, OperationOptions())
    assert names(handler.apply(SearchPage(PAGE, exact=False))) == ["ann", "ANNA"]


def test_filtering_switched_off() -> None:
    config = ResultsHandlerConfiguration(enableFilteredResultsHandler=False)
    handler = ResultsHandler(config, FILTER, OperationOptions())
    assert len(handler.apply(SearchPage(PAGE, exact=False))) == 3


def test_attributes_to_get_keeps_uid_and_name() -> None:
    handler = ResultsHandler(
        ResultsHandlerConfiguration(), None, OperationOptions(attributesToGet=["phone"])
    )
    first = handler.apply(SearchPage(PAGE))[0]
    assert first.attributes == {"phone": ["555"]}
    assert first.uid.value == "1" and first.name == "ann"


def test_attributes_to_get_switched_off() -> None:
    config = ResultsHandlerConfiguration(enableAttributesToGetSearchResultsHandler=False)
    handler = ResultsHandler(config, None, OperationOptions(attributesToGet=["phone"]))
    assert set(handler.apply(SearchPage(PAGE))[0].attributes) == {"firstname", "phone"}
