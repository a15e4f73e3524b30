"""Starting and stopping an emulator in-process: `async with run_emulator(settings) as emu`."""

from __future__ import annotations

import contextlib
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from emulator.admin_api import build_admin_app
from emulator.app import build_app
from emulator.auth import TokenStore
from emulator.faults import Faults
from emulator.generator import generate
from emulator.settings import EmulatorSettings
from emulator.state import RequestRecord, State
from emulator.store import Store
from emulator.tls import generate_self_signed, server_ssl_context
from emulator.values import Clock

__all__ = ["Emulator", "load_data", "run_emulator"]


class Emulator:
    """A running emulator: where it listens, its credentials, and handles on its insides."""

    def __init__(self, state: State, base_url: str, admin_url: str, tls_cert_file: Path | None):
        self._state = state
        self.base_url = base_url
        """`http://127.0.0.1:PORT`, or `https://` with TLS."""
        self.admin_url = admin_url
        """The admin API, on 127.0.0.1 only (see `emulator.admin_api`)."""
        self.tls_cert_file = tls_cert_file
        """The certificate to trust when TLS is on (generated when none was given)."""

    @property
    def settings(self) -> EmulatorSettings:
        return self._state.settings

    @property
    def store(self) -> Store:
        return self._state.store

    @property
    def faults(self) -> Faults:
        return self._state.faults

    @property
    def clock(self) -> Clock:
        return self._state.clock

    @property
    def tokens(self) -> TokenStore:
        return self._state.tokens

    @property
    def client_id(self) -> str:
        return self._state.tokens.client_id

    @property
    def client_secret(self) -> str:
        return self._state.tokens.client_secret

    @property
    def refresh_token(self) -> str:
        """The refresh token the emulator was started with (or generated)."""
        return self._state.tokens.refresh_token

    @property
    def private_app_token(self) -> str:
        """A static private-app bearer token that never expires."""
        return self._state.tokens.private_app_token

    @property
    def requests(self) -> list[RequestRecord]:
        """Requests answered so far, oldest first (bounded by `request_log_size`)."""
        return list(self._state.requests)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RequestRecord]:
        """Requests whose path starts with `path_prefix` (and of `method`, when given)."""
        return [
            r
            for r in self._state.requests
            if r.path.startswith(path_prefix) and (method is None or r.method == method)
        ]

    def revoke_refresh_token(self, token: str) -> bool:
        """Revoke a refresh token and its access tokens; False if it was not valid."""
        return self._state.tokens.revoke_refresh_token(token)

    def issued_tokens(self) -> list[str]:
        """Every refresh and access token issued so far, revoked ones included (leak checks)."""
        return self._state.tokens.issued_tokens()

    def expire_access_tokens(self) -> int:
        """Expire every access token issued so far (the next call with one gets a 401)."""
        return self._state.tokens.expire_access_tokens()

    def issue_refresh_token(self) -> str:
        """Another valid refresh token (a second installation of the app)."""
        return self._state.tokens.issue_refresh_token()

    def issue_authorization_code(self, redirect_uri: str | None = None) -> str:
        """A one-time code for the `authorization_code` grant."""
        return self._state.tokens.issue_authorization_code(redirect_uri)

    def reset_rate_limits(self) -> None:
        """Forget every call counted against the rate limits."""
        self._state.limiter.reset()


def load_data(store: Store, settings: EmulatorSettings) -> None:
    """Fill a store from `data_file`, or generate `contacts`/`companies` from `seed`."""
    if settings.data_file is not None:
        store.load_jsonl(settings.data_file)
    elif settings.contacts or settings.companies:
        generate(
            store,
            contacts=settings.contacts,
            companies=settings.companies,
            seed=settings.seed,
            custom_properties=settings.custom_properties,
        )


@contextlib.asynccontextmanager
async def run_emulator(
    settings: EmulatorSettings | None = None, *, store: Store | None = None
) -> AsyncIterator[Emulator]:
    """Serve the emulator on `settings.host`/`port` (0: ephemeral) until the block exits.

    The admin API listens on 127.0.0.1:`admin_port`. Pass `store` to serve data prepared
    beforehand; otherwise the store is filled as `load_data` says.
    """
    settings = settings or EmulatorSettings()
    if store is None:
        store = Store(settings)
        load_data(store, settings)
    state = State.create(settings, store)
    with contextlib.ExitStack() as stack:
        ssl_context: ssl.SSLContext | None = None
        cert_file: Path | None = None
        if settings.tls:
            if settings.tls_cert_file and settings.tls_key_file:
                cert_file, key_file = settings.tls_cert_file, settings.tls_key_file
            else:
                directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                cert_file, key_file = generate_self_signed(directory, settings.host)
            ssl_context = server_ssl_context(cert_file, key_file)
        runner = web.AppRunner(
            build_app(state), handle_signals=False, shutdown_timeout=0.5, access_log=None
        )
        admin_runner = web.AppRunner(
            build_admin_app(state), handle_signals=False, shutdown_timeout=0.5, access_log=None
        )
        await runner.setup()
        await admin_runner.setup()
        try:
            site = web.TCPSite(runner, settings.host, settings.port, ssl_context=ssl_context)
            await site.start()
            admin_site = web.TCPSite(admin_runner, "127.0.0.1", settings.admin_port)
            await admin_site.start()
            host, port = runner.addresses[0][:2]
            _, admin_port = admin_runner.addresses[0][:2]
            scheme = "https" if ssl_context else "http"
            shown = f"[{host}]" if ":" in host else host
            yield Emulator(
                state,
                f"{scheme}://{shown}:{port}",
                f"http://127.0.0.1:{admin_port}",
                cert_file,
            )
        finally:
            await runner.cleanup()
            await admin_runner.cleanup()
