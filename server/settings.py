"""The server's own settings: one typed object, defaults with their units in their names.

Operators write these in `conf/ConnectorServer.properties` (the Java RCS keys where one exists,
`connectorserver.<field>` for ours) and may override them from the environment; the loader in
`server.conf` documents the precedence. Nothing here reads files: this module is the contract
between the loader and the daemon.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PORT = 8759
"""The Java RCS's port (docs/openicf.md §2.1)."""


class ServerSettings(BaseModel):
    """Everything the daemon needs to listen, authenticate and keep itself within bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Listener (connectorserver.ifaddress, connectorserver.port)
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    path: str = "/openicf"

    # Peer authentication: the stored hash of the shared key (connectorserver.key), never the key.
    key_hash: str | None = None

    # TLS (connectorserver.usessl plus the files; mTLS when a client CA is given)
    use_ssl: bool = False
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None

    # Limits
    max_connections: int = Field(default=64, ge=1)
    max_frame_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_inflight_per_connection: int = Field(default=64, ge=1)
    max_queue_frames: int = Field(default=8, ge=1)
    search_frame_max_objects: int = Field(default=100, ge=1)
    search_frame_max_bytes: int = Field(default=256 * 1024, ge=1024)
    auth_failure_delay_s: float = Field(default=0.5, ge=0)
    auth_failure_delay_max_s: float = Field(default=3.0, ge=0)
    """Kept well below the upgrade timeouts (ours and clients', 10 s): a refused key must reach
    the peer as a refusal, not as a timeout that hides it."""
    max_frames_per_second: float | None = Field(default=None, gt=0)
    """Frames a connection may send per second, on average; beyond it, once `frame_burst` is
    spent, a frame is answered with an error instead of being acted on. None: no limit, the
    default, because one IDM socket legitimately carries thousands of gets a second
    (benchmarks.md) and `max_inflight_per_connection` already bounds the work it can start."""
    frame_burst: int = Field(default=200, ge=1)
    """Frames a connection may send at once after a quiet spell (the token bucket's size)."""
    max_pending_replies: int = Field(default=256, ge=1)
    """Answers the server may hold for a connection whose peer does not read them (errors,
    handshakes, controls, cancels); past it the connection is cut off, not buffered. Operation
    answers are bounded by `max_inflight_per_connection` and the socket's flow control."""

    # Timeouts
    open_timeout_s: float = Field(default=10.0, gt=0)
    close_timeout_s: float = Field(default=5.0, gt=0)
    ping_interval_s: float | None = Field(default=20.0, gt=0)
    ping_timeout_s: float | None = Field(default=20.0, gt=0)
    drain_timeout_s: float = Field(default=25.0, ge=0)
    inline_configuration_idle_s: float = Field(default=7200.0, gt=0)
    """Inline configurations unused this long lose their pool (the Java RCS uses 120 min)."""
    inline_configuration_max: int = Field(default=32, ge=1)
    """Inline configurations with a pool at once; a new one drops the least recently used idle
    one, and is refused (retryable) when all are busy."""

    # Behaviour
    memory_connector_enabled: bool = False
    """Host the in-memory reference connector (demonstrations, benchmarks); off by default, so
    that a server hosts only the connectors it is there for."""
    scripting_enabled: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    """auto: JSON lines, or readable lines when stdout is a terminal."""
    metrics_enabled: bool = True
    """Answer `/metrics` (Prometheus text format) on the listener's port, without the key."""
