"""Settings: defaults, national clouds, and a clear error naming each bad setting."""

from __future__ import annotations

import pytest

from shared.errors import ConfigurationError
from shared.settings import load_settings

NAMESPACE = {"ServiceBusConnection__fullyQualifiedNamespace": "contoso-bookings.servicebus.windows.net"}
CLIENT_ID = "0d7c3a0e-1b2c-4d5e-8f90-a1b2c3d4e5f6"


def test_defaults() -> None:
    settings = load_settings(NAMESPACE)
    assert settings.bookings_queue == "bookings"
    assert settings.results_queue == "meeting-results"
    assert settings.graph_base_url == "https://graph.microsoft.com/v1.0"
    assert settings.graph_scope == "https://graph.microsoft.com/.default"
    assert settings.service_bus.fully_qualified_namespace == "contoso-bookings.servicebus.windows.net"
    assert settings.managed_identity_client_id is None
    assert settings.developer_credential is False


@pytest.mark.parametrize(
    ("base_url", "scope"),
    [
        ("https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"),
        ("https://dod-graph.microsoft.us/v1.0/", "https://dod-graph.microsoft.us/.default"),
        ("https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default"),
        ("http://127.0.0.1:8010/v1.0", "http://127.0.0.1:8010/.default"),
    ],
)
def test_national_clouds_take_their_token_scope_from_the_same_host(base_url: str, scope: str) -> None:
    settings = load_settings({**NAMESPACE, "GRAPH_BASE_URL": base_url})
    assert settings.graph_base_url == base_url.rstrip("/")
    assert settings.graph_scope == scope


def test_one_user_assigned_identity_for_everything() -> None:
    settings = load_settings(
        {
            **NAMESPACE,
            "AZURE_CLIENT_ID": CLIENT_ID.upper(),
            "ServiceBusConnection__clientId": CLIENT_ID,
            "ServiceBusConnection__credential": "managedidentity",
        }
    )
    assert settings.managed_identity_client_id == CLIENT_ID


def test_developer_credential_only_under_func_start() -> None:
    assert load_settings({**NAMESPACE, "AZURE_FUNCTIONS_ENVIRONMENT": "Development"}).developer_credential is True
    assert load_settings({**NAMESPACE, "AZURE_FUNCTIONS_ENVIRONMENT": "Production"}).developer_credential is False


def test_the_emulator_connection_string_is_accepted_for_local_runs() -> None:
    emulator = "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
    settings = load_settings({"ServiceBusConnection": emulator})
    assert settings.service_bus.emulator_connection_string == emulator
    assert settings.service_bus.fully_qualified_namespace is None


@pytest.mark.parametrize(
    ("environment", "setting", "hint"),
    [
        ({}, "ServiceBusConnection__fullyQualifiedNamespace", "is not set"),
        (
            {"ServiceBusConnection__fullyQualifiedNamespace": "sb://contoso.servicebus.windows.net/"},
            "ServiceBusConnection__fullyQualifiedNamespace",
            "not a host name",
        ),
        (
            {**NAMESPACE, "ServiceBusConnection__credential": "clientsecret"},
            "ServiceBusConnection__credential",
            "managedidentity",
        ),
        (
            {"ServiceBusConnection": "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=x;SharedAccessKey=y"},
            "ServiceBusConnection",
            "only for the local Service Bus emulator",
        ),
        ({**NAMESPACE, "BOOKINGS_QUEUE": "-bookings"}, "BOOKINGS_QUEUE", "not a Service Bus queue name"),
        ({**NAMESPACE, "RESULTS_QUEUE": "results queue"}, "RESULTS_QUEUE", "not a Service Bus queue name"),
        ({**NAMESPACE, "GRAPH_BASE_URL": "graph.microsoft.com/v1.0"}, "GRAPH_BASE_URL", "not an absolute URL"),
        ({**NAMESPACE, "GRAPH_BASE_URL": "http://graph.microsoft.com/v1.0"}, "GRAPH_BASE_URL", "must use https"),
        ({**NAMESPACE, "GRAPH_BASE_URL": "https://graph.microsoft.com/beta"}, "GRAPH_BASE_URL", "must end with /v1.0"),
        ({**NAMESPACE, "GRAPH_BASE_URL": "https://graph.microsoft.com/v1.0?x=1"}, "GRAPH_BASE_URL", "query"),
        ({**NAMESPACE, "AZURE_CLIENT_ID": "my-identity"}, "AZURE_CLIENT_ID", "not a client id"),
        (
            {**NAMESPACE, "AZURE_CLIENT_ID": CLIENT_ID, "ServiceBusConnection__clientId": "1d7c3a0e-1b2c-4d5e-8f90-a1b2c3d4e5f6"},
            "ServiceBusConnection__clientId",
            "different identity",
        ),
    ],
)
def test_a_bad_setting_fails_fast_naming_the_setting(environment: dict[str, str], setting: str, hint: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(environment)
    assert raised.value.setting == setting
    assert str(raised.value).startswith(f"setting {setting}: ")
    assert hint in str(raised.value)
