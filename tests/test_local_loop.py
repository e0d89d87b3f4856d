"""`func start` against a real namespace creating meetings end to end: in Development, Graph signs in
on its own (GRAPH_CREDENTIAL) while Service Bus and the state table keep the developer's sign-in.

The namespace is a real one's name, not the emulator; only the AMQP send is intercepted (tests/conftest.py).
Graph and its identity endpoint are the simulator, reached through azure-identity's App Service code path.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.identity import CertificateCredential, DefaultAzureCredential, ManagedIdentityCredential

from shared import runtime
from shared.credential import build_credential, build_graph_credential
from shared.errors import ConfigurationError
from shared.result import ResultStatus
from shared.settings import CertificateSignIn, SimulatorIdentity
from simulator import GraphSimulator
from simulator.environment import STEERING_VARIABLES
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import TEST_NAMESPACE, HostInvoker, SentResults

IDENTITY_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER")


class ServiceBusCredentials(list[Any]):
    """The credential each Service Bus client was built with (the real client is still built)."""


@pytest.fixture
def service_bus_credentials(monkeypatch: pytest.MonkeyPatch) -> ServiceBusCredentials:
    seen = ServiceBusCredentials()
    build = runtime.build_service_bus_client

    def recording(target: Any, credential: Any) -> Any:
        seen.append(credential)
        return build(target, credential)

    monkeypatch.setattr(runtime, "build_service_bus_client", recording)
    return seen


@pytest.fixture
def func_start(
    graph: GraphSimulator, sent_results: SentResults, azurite: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HostInvoker]:
    """local.settings.json of the local loop: a real namespace's name, Graph and its identity on the simulator."""
    for name in (*STEERING_VARIABLES, *IDENTITY_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    for name in IDENTITY_VARIABLES:
        # Recorded as absent, so what the bridge puts in this process's environment is undone after the test.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)

    def no_developer_token(*args: object, **kwargs: object) -> None:
        raise AssertionError("the developer's sign-in was asked for a token; only Service Bus may use it")

    monkeypatch.setattr(DefaultAzureCredential, "get_token", no_developer_token)
    monkeypatch.setattr(DefaultAzureCredential, "get_token_info", no_developer_token)
    monkeypatch.setenv("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
    monkeypatch.setenv("ServiceBusConnection__fullyQualifiedNamespace", TEST_NAMESPACE)
    monkeypatch.setenv("GRAPH_BASE_URL", graph.graph_base_url)
    monkeypatch.setenv("GRAPH_CREDENTIAL", "simulator")
    monkeypatch.setenv("GRAPH_IDENTITY_ENDPOINT", graph.identity_endpoint)
    monkeypatch.setenv("GRAPH_IDENTITY_HEADER", graph.identity_header)
    monkeypatch.setenv("RecordStateStorage", azurite)
    monkeypatch.setenv("RECORD_STATE_TABLE", f"state{uuid.uuid4().hex}")
    runtime.reset_pipeline()
    yield HostInvoker(sent_results)
    runtime.reset_pipeline()


def test_a_booking_gets_a_meeting_with_graphs_own_sign_in_and_the_developers_for_service_bus(
    func_start: HostInvoker, graph: GraphSimulator, service_bus_credentials: ServiceBusCredentials
) -> None:
    func_start.deliver(booking())

    result = func_start.last_result()
    assert result.status is ResultStatus.CREATED
    assert graph.meeting_for(ORGANIZER_ID, result.external_id) is not None
    [token_request] = graph.token_requests()
    assert token_request.headers["X-IDENTITY-HEADER"] == graph.identity_header
    assert token_request.query["resource"] == graph.origin

    [service_bus] = service_bus_credentials
    assert isinstance(service_bus, DefaultAzureCredential)
    # The simulator's endpoint is now in this process's environment: the developer's chain must not take it.
    assert not any(isinstance(link, ManagedIdentityCredential) for link in service_bus.credentials)


def test_without_graph_credential_the_developer_chain_keeps_its_managed_identity() -> None:
    """Mode 2 (the emulator) relies on it: DefaultAzureCredential finds the simulator through IDENTITY_ENDPOINT."""
    chain = build_credential(None, developer=True)
    assert isinstance(chain, DefaultAzureCredential)
    assert any(isinstance(link, ManagedIdentityCredential) for link in chain.credentials)


def test_the_simulator_sign_in_is_azure_identitys_managed_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in IDENTITY_VARIABLES:
        monkeypatch.setenv(name, "")
    credential = build_graph_credential(SimulatorIdentity("http://127.0.0.1:8010/msi/token", "secret"))
    assert isinstance(credential, ManagedIdentityCredential)


def test_a_certificate_signs_in_to_the_test_tenant(tmp_path: Path) -> None:
    certificate = tmp_path / "graph-app.pem"
    certificate.write_bytes(_self_signed_pem())
    sign_in = CertificateSignIn("contoso-test.onmicrosoft.com", "0d7c3a0e-1b2c-4d5e-8f90-a1b2c3d4e5f6", str(certificate))
    assert isinstance(build_graph_credential(sign_in), CertificateCredential)


@pytest.mark.parametrize("content", [None, b"not a certificate"])
def test_an_unreadable_certificate_is_a_setting_error(tmp_path: Path, content: bytes | None) -> None:
    certificate = tmp_path / "graph-app.pem"
    if content is not None:
        certificate.write_bytes(content)
    sign_in = CertificateSignIn("contoso-test.onmicrosoft.com", "0d7c3a0e-1b2c-4d5e-8f90-a1b2c3d4e5f6", str(certificate))
    with pytest.raises(ConfigurationError) as raised:
        build_graph_credential(sign_in)
    assert raised.value.setting == "GRAPH_CERTIFICATE_PATH"
    assert str(certificate) in str(raised.value)


def _self_signed_pem() -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "booking-bridge-dev")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem + certificate.public_bytes(serialization.Encoding.PEM)
