"""The managed identity, and the Graph token it issues, cached for the token's lifetime.

In Azure the bridge uses ManagedIdentityCredential only (AZURE_CLIENT_ID selects the
user-assigned identity). Under `func start` (AZURE_FUNCTIONS_ENVIRONMENT=Development)
it uses DefaultAzureCredential, so a developer's `az login` works against a real namespace.
"""

from __future__ import annotations

import threading
import time

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from shared.errors import TokenError

# Renew this long before expiry (or at half-life for short tokens), so no request leaves with a token about to lapse.
REFRESH_MARGIN_SECONDS = 300


def build_credential(managed_identity_client_id: str | None, developer: bool) -> TokenCredential:
    """The process's one credential, for Graph, Service Bus and the state table alike."""
    if developer:
        return DefaultAzureCredential(managed_identity_client_id=managed_identity_client_id)
    return ManagedIdentityCredential(client_id=managed_identity_client_id)


class GraphToken:
    """A bearer token for one scope, fetched once per lifetime and shared by every thread."""

    def __init__(self, credential: TokenCredential, scope: str) -> None:
        self._credential = credential
        self._scope = scope
        self._token: AccessToken | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()

    def bearer(self) -> str:
        """Return a valid access token, asking the identity endpoint only when the cached one is near expiry."""
        token = self._token
        if token is None or time.time() >= self._refresh_at:
            with self._lock:
                token = self._token
                if token is None or time.time() >= self._refresh_at:
                    token = self._fetch()
                    now = time.time()
                    self._refresh_at = token.expires_on - min(REFRESH_MARGIN_SECONDS, (token.expires_on - now) / 2)
                    self._token = token
        return token.token

    def _fetch(self) -> AccessToken:
        try:
            return self._credential.get_token(self._scope)
        except AzureError as error:
            # Only the SDK's own summary: it names the endpoint and the cause, never the token.
            raise TokenError(
                f"the managed identity could not issue a token for {self._scope}: {error.message}. To fix: {TokenError.fix}"
            ) from error
