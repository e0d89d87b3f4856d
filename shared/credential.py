"""The managed identity, and the Graph token it issues, cached for the token's lifetime.

In Azure the bridge uses ManagedIdentityCredential only (AZURE_CLIENT_ID selects the
user-assigned identity). Under `func start` (AZURE_FUNCTIONS_ENVIRONMENT=Development)
it uses DefaultAzureCredential, so a developer's `az login` works against a real namespace,
and Graph may sign in on its own (GRAPH_CREDENTIAL): the simulator's identity endpoint, or
a test tenant's app registration with a certificate.
"""

from __future__ import annotations

import os
import threading
import time

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError
from azure.identity import CertificateCredential, DefaultAzureCredential, ManagedIdentityCredential

from shared.errors import ConfigurationError, TokenError
from shared.settings import GRAPH_CERTIFICATE_PATH, CertificateSignIn, GraphSignIn

# Renew this long before expiry (or at half-life for short tokens), so no request leaves with a token about to lapse.
REFRESH_MARGIN_SECONDS = 300


def build_credential(
    managed_identity_client_id: str | None, developer: bool, graph_sign_in: GraphSignIn | None = None
) -> TokenCredential:
    """The process's one credential, for Service Bus, the state table and (unless it signs in on its own) Graph.

    When Graph has its own sign-in, the developer's credential leaves out the managed identity: the
    simulator's endpoint that build_graph_credential puts in this process's environment is Graph's, and
    the namespace would refuse its tokens."""
    if developer:
        return DefaultAzureCredential(
            managed_identity_client_id=managed_identity_client_id,
            exclude_managed_identity_credential=graph_sign_in is not None,
        )
    return ManagedIdentityCredential(client_id=managed_identity_client_id)


def build_graph_credential(sign_in: GraphSignIn) -> TokenCredential:
    """Graph's own credential for local runs (settings allow a GraphSignIn only in Development)."""
    if isinstance(sign_in, CertificateSignIn):
        try:
            return CertificateCredential(sign_in.tenant_id, sign_in.client_id, certificate_path=sign_in.certificate_path)
        except (OSError, ValueError) as error:
            raise ConfigurationError(
                GRAPH_CERTIFICATE_PATH,
                f"{sign_in.certificate_path!r} is not a readable PEM or PKCS12 certificate with its private key "
                f"(and no password): {error}",
            ) from None
    # azure-identity reads a managed-identity endpoint only from IDENTITY_ENDPOINT and IDENTITY_HEADER, which
    # MSAL looks up on every token request (msal.managed_identity._obtain_token); there is no argument for it
    # by design (Azure/azure-sdk-for-cpp#3638). Setting them here reaches only this worker process, so Graph
    # goes through the App Service code path Azure uses while the host's trigger never sees the simulator.
    os.environ["IDENTITY_ENDPOINT"] = sign_in.endpoint
    os.environ["IDENTITY_HEADER"] = sign_in.header
    return ManagedIdentityCredential()


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
