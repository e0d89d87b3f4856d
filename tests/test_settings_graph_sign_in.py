"""GRAPH_CREDENTIAL and its settings: Graph's own sign-in for local runs, refused anywhere but Development."""

from __future__ import annotations

import pytest

from shared.errors import ConfigurationError
from shared.settings import GRAPH_SIGN_IN_SETTINGS, CertificateSignIn, SimulatorIdentity, load_result_route, load_settings

NAMESPACE = {"ServiceBusConnection__fullyQualifiedNamespace": "contoso-bookings.servicebus.windows.net"}
DEVELOPMENT = {**NAMESPACE, "AZURE_FUNCTIONS_ENVIRONMENT": "Development"}
SIMULATOR = {
    "GRAPH_CREDENTIAL": "simulator",
    "GRAPH_IDENTITY_ENDPOINT": "http://127.0.0.1:8010/msi/token",
    "GRAPH_IDENTITY_HEADER": "printed-by-the-simulator",
}
CERTIFICATE = {
    "GRAPH_CREDENTIAL": "certificate",
    "GRAPH_TENANT_ID": "8d2f6b1e-4c3a-4f5e-9b7d-1a2c3e4f5a6b",
    "GRAPH_CLIENT_ID": "0D7C3A0E-1B2C-4D5E-8F90-A1B2C3D4E5F6",
    "GRAPH_CERTIFICATE_PATH": "/home/dev/graph-app.pem",
}


def test_without_them_graph_uses_the_one_credential() -> None:
    assert load_settings(DEVELOPMENT).graph_sign_in is None
    assert load_settings(NAMESPACE).graph_sign_in is None


def test_the_simulators_identity_endpoint_for_graph() -> None:
    settings = load_settings({**DEVELOPMENT, **SIMULATOR})
    assert settings.graph_sign_in == SimulatorIdentity("http://127.0.0.1:8010/msi/token", "printed-by-the-simulator")
    assert "printed-by-the-simulator" not in repr(settings)
    assert load_result_route({**DEVELOPMENT, **SIMULATOR}).graph_sign_in == settings.graph_sign_in


def test_an_app_registration_of_a_test_tenant_with_its_certificate() -> None:
    settings = load_settings({**DEVELOPMENT, **CERTIFICATE, "GRAPH_TENANT_ID": "contoso-test.onmicrosoft.com"})
    assert settings.graph_sign_in == CertificateSignIn(
        "contoso-test.onmicrosoft.com", "0d7c3a0e-1b2c-4d5e-8f90-a1b2c3d4e5f6", "/home/dev/graph-app.pem"
    )


@pytest.mark.parametrize("name", GRAPH_SIGN_IN_SETTINGS)
@pytest.mark.parametrize("environment", [None, "Production", "Staging"])
def test_each_is_refused_outside_development(name: str, environment: str | None) -> None:
    settings = {**NAMESPACE, name: {**SIMULATOR, **CERTIFICATE}[name]}
    if environment:
        settings["AZURE_FUNCTIONS_ENVIRONMENT"] = environment
    with pytest.raises(ConfigurationError) as raised:
        load_settings(settings)
    assert raised.value.setting == name
    assert "for local runs only (AZURE_FUNCTIONS_ENVIRONMENT=Development" in str(raised.value)


def test_a_broken_graph_sign_in_does_not_keep_a_result_from_being_published() -> None:
    route = load_result_route({**NAMESPACE, **SIMULATOR})
    assert route.graph_sign_in is None and route.results_queue == "meeting-results"


@pytest.mark.parametrize(
    ("settings", "name", "hint"),
    [
        ({"GRAPH_CREDENTIAL": "secret"}, "GRAPH_CREDENTIAL", "'simulator' (GRAPH_IDENTITY_ENDPOINT"),
        ({"GRAPH_IDENTITY_HEADER": "x"}, "GRAPH_CREDENTIAL", "is not set while GRAPH_IDENTITY_HEADER is"),
        ({**SIMULATOR, "GRAPH_IDENTITY_ENDPOINT": ""}, "GRAPH_IDENTITY_ENDPOINT", "is not set"),
        ({**SIMULATOR, "GRAPH_IDENTITY_HEADER": " "}, "GRAPH_IDENTITY_HEADER", "is not set"),
        (
            {**SIMULATOR, "GRAPH_IDENTITY_ENDPOINT": "http://10.0.0.5:8010/msi/token"},
            "GRAPH_IDENTITY_ENDPOINT",
            "plain http is allowed only on loopback",
        ),
        ({**SIMULATOR, "GRAPH_IDENTITY_ENDPOINT": "127.0.0.1:8010/msi/token"}, "GRAPH_IDENTITY_ENDPOINT", "not an absolute URL"),
        ({**SIMULATOR, "GRAPH_CLIENT_ID": CERTIFICATE["GRAPH_CLIENT_ID"]}, "GRAPH_CLIENT_ID", "not used with GRAPH_CREDENTIAL"),
        ({**CERTIFICATE, "GRAPH_IDENTITY_HEADER": "x"}, "GRAPH_IDENTITY_HEADER", "not used with GRAPH_CREDENTIAL"),
        ({**CERTIFICATE, "GRAPH_TENANT_ID": ""}, "GRAPH_TENANT_ID", "is not set"),
        ({**CERTIFICATE, "GRAPH_TENANT_ID": "contoso test"}, "GRAPH_TENANT_ID", "not a tenant id"),
        ({**CERTIFICATE, "GRAPH_CLIENT_ID": "my-app"}, "GRAPH_CLIENT_ID", "not a client id"),
        ({**CERTIFICATE, "GRAPH_CERTIFICATE_PATH": ""}, "GRAPH_CERTIFICATE_PATH", "is not set"),
        ({**SIMULATOR, "GRAPH_BASE_URL": "http://graph.example.com/v1.0"}, "GRAPH_BASE_URL", "must use https"),
    ],
)
def test_a_bad_graph_sign_in_names_its_setting(settings: dict[str, str], name: str, hint: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**DEVELOPMENT, **settings})
    assert raised.value.setting == name
    assert hint in str(raised.value)
    assert "printed-by-the-simulator" not in str(raised.value)
