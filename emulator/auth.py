"""OAuth tokens and private-app tokens: who may call, and for how long (docs/hubspot.md §3).

One emulated app (client id and secret) installed in one account. Refresh tokens never expire
until revoked; access tokens expire after `token_ttl_s` (HubSpot: 1800 s). Private-app tokens
are static bearer tokens with no expiry (§3.3).
"""

from __future__ import annotations

import math
import secrets
import uuid
from dataclasses import dataclass

from emulator.errors import HubSpotError
from emulator.settings import EmulatorSettings
from emulator.values import Clock

__all__ = ["AccessToken", "Principal", "TokenGrant", "TokenStore", "oauth_error"]

_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made an authenticated call; `app` keys the per-app rate window (§4)."""

    app: str
    oauth: bool  # daily rate-limit headers are not sent for OAuth calls (§4)


@dataclass(slots=True)
class AccessToken:
    token: str
    refresh_token: str
    expires_at: float  # monotonic seconds


@dataclass(frozen=True, slots=True)
class TokenGrant:
    access_token: str
    refresh_token: str
    expires_in: int


def oauth_error(error: str, description: str, legacy_status: str) -> HubSpotError:
    """A 400 with both the RFC 6749 fields and the legacy ones (§3.1)."""
    return HubSpotError(
        400,
        description,
        body={
            "error": error,
            "error_description": description,
            "status": legacy_status,
            "message": description,
        },
    )


class TokenStore:
    """Issues, checks, expires and revokes the emulated app's tokens."""

    def __init__(self, settings: EmulatorSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.client_id = settings.client_id or str(uuid.uuid4())
        self.client_secret = settings.client_secret or str(uuid.uuid4())
        self.private_app_token = settings.private_app_token or f"pat-na1-{uuid.uuid4()}"
        self._refresh_tokens: set[str] = set()
        self._revoked: set[str] = set()
        self._issued: set[str] = set()
        self._access: dict[str, AccessToken] = {}
        self._codes: dict[str, str | None] = {}  # authorization code -> redirect_uri
        self.refresh_token = settings.refresh_token or self.issue_refresh_token()
        self._refresh_tokens.add(self.refresh_token)
        self._issued.add(self.refresh_token)

    # -- issuing --------------------------------------------------------------------------------

    def issue_refresh_token(self) -> str:
        """A new valid refresh token (HubSpot's are UUID-shaped; §3.1)."""
        token = str(uuid.uuid4())
        self._refresh_tokens.add(token)
        self._issued.add(token)
        return token

    def issue_authorization_code(self, redirect_uri: str | None = None) -> str:
        """A one-time code for the `authorization_code` grant, as the install flow would give."""
        code = str(uuid.uuid4())
        self._codes[code] = redirect_uri
        return code

    def revoke_refresh_token(self, token: str) -> bool:
        """Revoke a refresh token and the access tokens it issued; False if it was unknown."""
        if token not in self._refresh_tokens:
            return False
        self._refresh_tokens.discard(token)
        self._revoked.add(token)
        for access in [a for a in self._access.values() if a.refresh_token == token]:
            del self._access[access.token]
        return True

    def issued_tokens(self) -> list[str]:
        """Every refresh and access token issued so far, revoked ones included (leak checks)."""
        return sorted(self._issued)

    def expire_access_tokens(self) -> int:
        """Make every issued access token expired now; returns how many there were."""
        now = self.clock.monotonic()
        for access in self._access.values():
            access.expires_at = min(access.expires_at, now - 1)
        return len(self._access)

    def _issue_access_token(self, refresh_token: str) -> AccessToken:
        # HubSpot access tokens are opaque base64-like strings up to 512 characters (§3.1).
        token = "C" + secrets.token_urlsafe(96)
        access = AccessToken(
            token, refresh_token, self.clock.monotonic() + self.settings.token_ttl_s
        )
        self._access[token] = access
        self._issued.add(token)
        return access

    # -- grants ---------------------------------------------------------------------------------

    def grant(self, form: dict[str, str]) -> TokenGrant:
        """Handle a token request's form fields (refresh_token or authorization_code grant)."""
        grant_type = form.get("grant_type", "")
        if grant_type not in ("refresh_token", "authorization_code"):
            raise oauth_error(
                "unsupported_grant_type",
                f"grant_type must be refresh_token or authorization_code, got {grant_type!r}",
                "BAD_GRANT_TYPE",
            )
        if form.get("client_id") != self.client_id:
            raise oauth_error("invalid_client", "missing or unknown client id", "BAD_CLIENT_ID")
        if form.get("client_secret") != self.client_secret:
            raise oauth_error(
                "invalid_client", "missing or invalid client secret", "BAD_CLIENT_SECRET"
            )
        if grant_type == "authorization_code":
            code = form.get("code", "")
            if code not in self._codes:
                raise oauth_error("invalid_grant", "missing or unknown auth code", "BAD_AUTH_CODE")
            expected_uri = self._codes[code]
            if expected_uri is not None and form.get("redirect_uri") != expected_uri:
                raise oauth_error(
                    "invalid_grant", "redirect_uri does not match", "BAD_REDIRECT_URI"
                )
            del self._codes[code]
            refresh = self.issue_refresh_token()
        else:
            refresh = form.get("refresh_token", "")
            if refresh not in self._refresh_tokens:
                raise oauth_error(
                    "invalid_grant",
                    "refresh token is invalid, expired or revoked",
                    "BAD_REFRESH_TOKEN",
                )
            if self.settings.rotate_refresh_tokens:
                self.revoke_refresh_token(refresh)
                refresh = self.issue_refresh_token()
        access = self._issue_access_token(refresh)
        return TokenGrant(access.token, refresh, self._expires_in(access))

    # -- checking -------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal:
        """Check an `Authorization` header; 401 INVALID/EXPIRED_AUTHENTICATION otherwise."""
        if not authorization or not authorization[:7].lower() == "bearer ":
            raise self._invalid()
        token = authorization[7:].strip()
        if token == self.private_app_token:
            return Principal(app=f"private:{token[-8:]}", oauth=False)
        access = self._access.get(token)
        if access is None:
            raise self._invalid()
        expired_s = self.clock.monotonic() - access.expires_at
        if expired_s >= 0:
            raise HubSpotError(
                401,
                f"The OAuth token used to make this call expired {math.floor(expired_s)} "
                "second(s) ago.",
                category="EXPIRED_AUTHENTICATION",
            )
        return Principal(app=f"oauth:{self.client_id}", oauth=True)

    def access_token_info(self, token: str) -> AccessToken | None:
        """A live (unexpired) access token, or None."""
        access = self._access.get(token)
        if access is None or access.expires_at <= self.clock.monotonic():
            return None
        return access

    def is_refresh_token(self, token: str) -> bool:
        return token in self._refresh_tokens

    def expires_in(self, access: AccessToken) -> int:
        return self._expires_in(access)

    def _expires_in(self, access: AccessToken) -> int:
        return max(0, math.ceil(access.expires_at - self.clock.monotonic()))

    @staticmethod
    def _invalid() -> HubSpotError:
        return HubSpotError(401, _AUTH_MESSAGE, category="INVALID_AUTHENTICATION")
