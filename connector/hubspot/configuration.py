"""The HubSpot connector's configuration: the Java connector's ten properties, and a few more.

The first ten are the Java connector's (docs/openicf.md §6), with its types and defaults, so an
IDM provisioner file written for it works unchanged, strings included (`"10"`, `"true"`). The
rest are what a deployment needs that the Java connector kept to itself: where HubSpot is
(`apiBaseUrl`, which is also how tests and the demo reach the emulator), how long a request may
take, and how many times a failed one is tried again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import urlsplit

from connector.configuration import Configuration, Property
from protocol.errors import ConfigurationException
from protocol.values import GuardedString

DEFAULT_API_BASE_URL = "https://api.hubapi.com"


class HubspotConfiguration(Configuration):
    """`configurationProperties` of a HubSpot connector configuration."""

    clientId: str = Property(
        required=True,
        order=1,
        min_length=1,
        help="The client id of the HubSpot app the refresh token was issued to",
        display="Client ID",
        group="Authentication",
    )
    clientSecret: GuardedString = Property(
        required=True,
        confidential=True,
        order=2,
        help="The client secret of that app",
        display="Client Secret",
        group="Authentication",
    )
    refreshToken: GuardedString = Property(
        required=True,
        confidential=True,
        order=3,
        help="An OAuth refresh token of that app, from its authorization-code flow",
        display="Refresh Token",
        group="Authentication",
    )
    acceptSelfSignedCertificates: bool = Property(
        False,
        order=4,
        help="Trust a self-signed certificate presented by HubSpot's address (still checking "
        "the host name unless disableHostNameVerifier is set)",
        display="Accept Self-Signed Certificates",
        group="Connection",
    )
    readSchema: bool = Property(
        False,
        order=5,
        help="Build the schema from HubSpot's property definitions instead of the built-in one",
        display="Read Schema",
        group="Schema",
    )
    disableHostNameVerifier: bool = Property(
        False,
        order=6,
        help="Do not check that the certificate names the host (the chain is still verified)",
        display="Disable Host Name Verifier",
        group="Connection",
    )
    maximumConnections: int = Property(
        10,
        order=7,
        ge=1,
        help="At most this many HTTP connections to HubSpot at a time",
        display="Maximum Connections",
        group="Connection",
    )
    permitsPerSecond: float = Property(
        10,
        order=8,
        gt=0,
        help="At most this many HubSpot calls per second, shared by every pooled instance",
        display="Permits Per Second",
        group="Rate limits",
    )
    httpProxyHost: str | None = Property(
        None,
        order=9,
        help="An HTTP proxy every call to HubSpot goes through",
        display="HTTP Proxy Host",
        group="Connection",
    )
    httpProxyPort: int | None = Property(
        None,
        order=10,
        ge=1,
        le=65535,
        help="The port of httpProxyHost",
        display="HTTP Proxy Port",
        group="Connection",
    )
    apiBaseUrl: str = Property(
        DEFAULT_API_BASE_URL,
        order=11,
        help="Where HubSpot's API is; the OAuth token endpoint is under it too",
        display="API Base URL",
        group="Connection",
    )
    requestTimeoutSeconds: float = Property(
        60.0,
        order=12,
        gt=0,
        help="How long one HTTP call to HubSpot may take in all",
        display="Request Timeout (seconds)",
        group="Connection",
    )
    maxRetries: int = Property(
        5,
        order=13,
        ge=0,
        le=20,
        help="How many times a call refused for rate limits or failed in transit is tried again",
        display="Maximum Retries",
        group="Rate limits",
    )
    searchRequestsPerSecond: float = Property(
        5,
        order=14,
        gt=0,
        help="At most this many CRM search calls per second (HubSpot's own limit is 5)",
        display="Search Requests Per Second",
        group="Rate limits",
    )
    syncLookBackSeconds: float = Property(
        60.0,
        order=15,
        display="Sync Look-Back Seconds",
        group="Sync",
        ge=0,
        le=3600,
        help="Live sync reads changes this far behind the newest again, and drops those it "
        "delivered, so that a change HubSpot's search indexed late is not missed; it must be "
        "longer than HubSpot's indexing delay (docs/hubspot-connector.md, Live sync)",
    )
    searchIndexingDelaySeconds: float = Property(
        10.0,
        order=16,
        display="Search Indexing Delay Seconds",
        group="Connection",
        ge=0,
        le=120,
        help="How long HubSpot's search may lag a write. After a company create whose answer "
        "was lost, the connector waits this long after that attempt before searching for it, "
        "so that it never sends a create twice",
    )

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> Self:
        """Validate, naming every wrong property at once, cross-field rules included."""
        problems = _cross_field_problems(properties)
        try:
            config = super().from_properties(properties)
        except ConfigurationException as exc:
            if not problems:
                raise
            raise ConfigurationException(f"{exc.message}; " + "; ".join(problems)) from None
        if problems:
            raise ConfigurationException("invalid configuration: " + "; ".join(problems))
        return config

    @property
    def proxy_url(self) -> str | None:
        if self.httpProxyHost is None:
            return None
        return f"http://{self.httpProxyHost}:{self.httpProxyPort or 80}"

    @property
    def base_url(self) -> str:
        return self.apiBaseUrl.rstrip("/")


def _cross_field_problems(properties: Mapping[str, Any]) -> list[str]:
    """Rules that span properties, checked on the raw values (whatever their fields say)."""
    problems = []
    host, port = properties.get("httpProxyHost"), properties.get("httpProxyPort")
    if port not in (None, "") and not host:
        problems.append("httpProxyPort: set without httpProxyHost")
    url = properties.get("apiBaseUrl")
    if isinstance(url, str):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append("apiBaseUrl: not an http(s) URL with a host")
        elif parts.query or parts.fragment:
            problems.append("apiBaseUrl: must not carry a query or a fragment")
    return problems
