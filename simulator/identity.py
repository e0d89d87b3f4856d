"""The App Service managed identity endpoint (api-version 2019-08-01), and the tokens it issued.

Protocol, as azure-identity/MSAL speak it (msal.managed_identity._obtain_token_on_app_service):
GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=<id>] with the
header X-IDENTITY-HEADER: {IDENTITY_HEADER}; the answer is JSON with access_token, expires_on
(epoch seconds, as a string), resource, token_type and client_id. Errors are
{"statusCode": N, "message": "..."}, which MSAL turns into the credential's error text.

Tokens are opaque random strings, remembered with their resource and expiry, so the Graph
side can refuse a token it never issued, an expired one, or one for another audience.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from simulator.server import HttpRequest, HttpResponse, json_response

API_VERSION = "2019-08-01"
# The client id of the app's system-assigned identity, when no user-assigned one is configured.
SYSTEM_ASSIGNED_CLIENT_ID = "5a1c0e2f-3b4d-4e6f-8a9b-0c1d2e3f4a5b"


@dataclass(frozen=True)
class IssuedToken:
    resource: str
    expires_at: float
    client_id: str


class ManagedIdentityEndpoint:
    """Issues tokens over HTTP and checks bearer tokens for the Graph side."""

    def __init__(self, *, secret: str, lifetime_seconds: float, expected_client_id: str | None) -> None:
        self._secret = secret
        self._lifetime_seconds = lifetime_seconds
        self._expected_client_id = expected_client_id
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one token request the way App Service's identity endpoint does."""
        if request.path != "/msi/token":
            return _error(404, f"No identity endpoint at {request.path}; it is /msi/token.")
        if request.method != "GET":
            return _error(405, f"The identity endpoint accepts GET, not {request.method}.", {"Allow": "GET"})
        if not hmac.compare_digest(request.headers.get("x-identity-header", "").encode(), self._secret.encode()):
            return _error(401, "The X-IDENTITY-HEADER header is missing or is not this app's IDENTITY_HEADER.")
        api_version = _first(request, "api-version")
        if api_version != API_VERSION:
            return _error(400, f"The api-version {api_version!r} is not supported; use api-version={API_VERSION}.")
        resource = _first(request, "resource")
        if not resource:
            return _error(
                400, "The 'resource' query parameter is required (the token audience, e.g. https://graph.microsoft.com)."
            )
        if resource.rstrip("/").endswith("/.default"):
            # A scope where a resource belongs: Entra ID has no such resource principal.
            return _error(
                400,
                f"AADSTS500011: The resource principal named {resource} was not found in the tenant. "
                "Pass the resource (the origin), not a scope ending in /.default.",
            )
        client_id = self._identity_for(request)
        if client_id is None:
            requested = _first(request, "client_id") or "(none: system-assigned)"
            return _error(
                400,
                f"Unable to load the proper Managed Identity. The app has no managed identity with client_id {requested}; "
                f"its user-assigned identity is {self._expected_client_id}.",
            )
        return json_response(200, self._issue(resource, client_id))

    def check_bearer(self, authorization: str | None, audience: str) -> str | None:
        """None when `authorization` carries a live token this endpoint issued for `audience`, else why not."""
        scheme, _, token = (authorization or "").partition(" ")
        if not token.strip() or scheme.lower() != "bearer":
            return "Access token is empty."
        with self._lock:
            issued = self._tokens.get(token.strip())
        if issued is None:
            return "Access token validation failure. The token was not issued by this simulator's identity endpoint."
        if time.time() >= issued.expires_at:
            return "Lifetime validation failed, the token is expired."
        if issued.resource != audience:
            return f"Access token validation failure. Invalid audience: the token is for {issued.resource}, not {audience}."
        return None

    def _identity_for(self, request: HttpRequest) -> str | None:
        requested = _first(request, "client_id")
        if self._expected_client_id is None:
            return requested or SYSTEM_ASSIGNED_CLIENT_ID
        if requested is not None and requested.lower() == self._expected_client_id.lower():
            return self._expected_client_id
        return None

    def _issue(self, resource: str, client_id: str) -> dict[str, str]:
        token = secrets.token_urlsafe(32)
        expires_at = time.time() + self._lifetime_seconds
        with self._lock:
            self._tokens[token] = IssuedToken(resource, expires_at, client_id)
        return {
            "access_token": token,
            "expires_on": str(int(expires_at)),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }


def token_fault_response(status: int, headers: dict[str, str]) -> HttpResponse:
    """An injected failure in the identity endpoint's own error format."""
    return _error(status, f"The managed identity endpoint failed with status {status} (injected fault).", headers)


def _first(request: HttpRequest, name: str) -> str | None:
    values = request.query.get(name)
    return values[0] if values else None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    return json_response(status, {"statusCode": status, "message": message}, headers)
