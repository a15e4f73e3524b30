"""Results handlers, as IDM's `resultsHandlerConfig` switches them on (docs/openicf.md §3.2).

The Java framework wraps a search's results in handlers between the connector and the peer:
- `enableFilteredResultsHandler` re-applies the filter. ICF does it to every object, which is
  wasted work where the resource filtered exactly (its docs advise turning it off then); here it
  applies to the pages a connector marks inexact (`SearchPage.exact = False`), so it is safe to
  leave on.
- `enableCaseInsensitiveFilter` makes that re-applied filter compare strings case-insensitively.
- `enableAttributesToGetSearchResultsHandler` drops attributes the caller did not ask for
  (`__UID__` and `__NAME__` always stay).
- `enableNormalizingResultsHandler` applies the connector's attribute normalizer; no connector
  here declares one, so it leaves values as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.base import SearchPage
from protocol.configuration import ResultsHandlerConfiguration
from protocol.filters import Filter, Matcher, matcher
from protocol.values import ConnectorObject, OperationOptions


class ResultsHandler:
    """Applies a configuration's handlers to the pages of one search."""

    def __init__(
        self,
        config: ResultsHandlerConfiguration,
        filter: Filter | None,
        options: OperationOptions,
    ) -> None:
        self._filter = filter if config.enableFilteredResultsHandler else None
        self._keep: Matcher | None = (
            None
            if self._filter is None
            else matcher(self._filter, case_insensitive=config.enableCaseInsensitiveFilter)
        )
        wanted = options.attributesToGet
        self._wanted = (
            frozenset(wanted)
            if wanted is not None and config.enableAttributesToGetSearchResultsHandler
            else None
        )

    def apply(self, page: SearchPage) -> Sequence[ConnectorObject]:
        objects = page.objects
        if self._keep is not None and not page.exact:
            keep = self._keep
            objects = [o for o in objects if keep(o)]
        if self._wanted is not None:
            objects = [self.project(o) for o in objects]
        return objects

    def project(self, obj: ConnectorObject) -> ConnectorObject:
        """The object with only the attributes asked for."""
        if self._wanted is None or self._wanted.issuperset(obj.attributes):
            return obj
        kept = {k: v for k, v in obj.attributes.items() if k in self._wanted}
        return obj.model_copy(update={"attributes": kept})
