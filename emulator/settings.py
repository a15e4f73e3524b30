"""One typed settings object for the emulator; defaults carry their units in their names.

Every behaviour that docs/hubspot.md §10 leaves unverified is a setting here, so a test can pin
either reading, and the default is the one the reference leans to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EmulatorSettings", "LatencyDistribution"]

LatencyDistribution = Literal["uniform", "exponential", "lognormal"]


class EmulatorSettings(BaseModel):
    """Everything the emulator can be told; the CLI flags map one to one onto these fields.

    The object stays mutable (with validation on assignment) so that a test may, for instance,
    switch `rate_limits_enabled` on a running emulator.
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    # Listener
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)  # 0 = ephemeral
    admin_port: int = Field(default=0, ge=0, le=65535)  # admin listens on 127.0.0.1 only
    tls: bool = False
    tls_cert_file: Path | None = None  # with tls and no files: a generated self-signed pair
    tls_key_file: Path | None = None
    # Peers send ~27 KB query strings (docs/hubspot.md §0.10, §11.6); aiohttp's default is 8190.
    max_request_line_bytes: int = 1 << 20
    max_header_bytes: int = 1 << 20
    max_body_bytes: int = 64 << 20

    # OAuth and private apps (docs/hubspot.md §3)
    client_id: str | None = None  # generated when None
    client_secret: str | None = None  # generated when None
    refresh_token: str | None = None  # generated when None
    private_app_token: str | None = None  # a static `pat-na1-...` token, generated when None
    token_ttl_s: float = Field(default=1800.0, gt=0)
    rotate_refresh_tokens: bool = False  # HubSpot returns the same refresh token (§3.1)
    hub_id: int = 20_000_001
    hub_domain: str = "emulator.hubspot.test"
    app_id: int = 3_000_001
    user: str = "integration@emulator.hubspot.test"
    user_id: int = 50_000_001
    scopes: tuple[str, ...] = (
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.schemas.contacts.read",
        "crm.schemas.companies.read",
    )

    # Rate limits (docs/hubspot.md §4): per app per rolling window, search per account per second,
    # and a daily budget per account.
    rate_limits_enabled: bool = True
    ten_second_limit: int = Field(default=100, ge=1)
    ten_second_window_s: float = Field(default=10.0, gt=0)
    search_per_second_limit: int = Field(default=5, ge=1)
    daily_limit: int = Field(default=250_000, ge=1)
    retry_after_on_429: bool = False  # undocumented for CRM 429s (§4), so off by default

    # Search (docs/hubspot.md §1.7)
    indexing_delay_s: float = Field(default=0.0, ge=0)
    max_filter_groups: int = Field(default=5, ge=1)
    max_filters_per_group: int = Field(default=6, ge=1)
    max_filters_total: int = Field(default=18, ge=1)
    search_default_limit: int = 10
    search_max_limit: int = 200
    search_result_cap: int = 10_000
    search_query_max_chars: int = 3000

    # Lists and batches (docs/hubspot.md §1.3, §1.6)
    list_default_limit: int = 10
    list_max_limit: int = 100
    list_history_max_limit: int = 50
    list_limit_over_max: Literal["error", "clamp"] = "error"  # unverified (§10)
    batch_max_inputs: int = 100
    association_batch_max_inputs: int = 1000
    association_page_default_limit: int = 500

    # Other unverified points (docs/hubspot.md §10)
    archive_unknown_id_status: Literal[204, 404] = 204
    email_update_conflict: bool = True  # changing an email onto another contact's gives 409
    unique_company_domain: bool = False  # duplicate company domains are allowed by default
    null_for_unset_requested: bool = True  # a requested, unset property comes back as null
    omit_zero_milliseconds: bool = False  # `...:04Z` instead of `...:04.000Z`
    location_header_on_create: bool = False

    # Fault injection by rate (tests program sequences through `Faults`)
    latency_ms: float = Field(default=0.0, ge=0)  # fixed part of every response's delay
    latency_jitter_ms: float = Field(default=0.0, ge=0)  # mean of the random part
    latency_distribution: LatencyDistribution = "exponential"
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: tuple[int, ...] = (429, 502, 503, 504)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    lost_answer_rate: float = Field(default=0.0, ge=0, le=1)  # carried out, answer never sent
    stall_rate: float = Field(default=0.0, ge=0, le=1)
    stall_s: float = Field(default=60.0, ge=0)

    # Data
    seed: int = 0
    contacts: int = Field(default=0, ge=0)
    companies: int = Field(default=0, ge=0)
    custom_properties: int = Field(default=0, ge=0)  # extra generated string properties
    data_file: Path | None = None  # JSON lines written by `Store.save_jsonl`

    # Observability
    request_log_size: int = Field(default=100_000, ge=0)
