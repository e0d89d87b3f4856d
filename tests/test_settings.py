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
        (
            # The emulator's flag on a real namespace's string would let a secret through: the endpoint must be loopback.
            {
                "ServiceBusConnection": "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=x;"
                "SharedAccessKey=y;UseDevelopmentEmulator=true"
            },
            "ServiceBusConnection",
            "Endpoint on loopback",
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


ORGANIZER = "6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e"
OTHER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"


def test_lifecycle_defaults_and_the_state_table_is_required_only_where_it_is_used() -> None:
    settings = load_settings(NAMESPACE)
    assert (settings.record_state_table, settings.max_delivery_count, settings.max_throttle_requeues) == ("bookingstate", 10, 5)
    assert settings.graph_retry_budget_seconds == 45.0 and not settings.organizer_policy.restricts
    with pytest.raises(ConfigurationError, match="RecordStateStorage__tableServiceUri"):
        settings.record_state.require()
    uri = load_settings({**NAMESPACE, "RecordStateStorage__tableServiceUri": "https://contosobridge.table.core.windows.net/"})
    assert uri.record_state.require().table_service_uri == "https://contosobridge.table.core.windows.net"


@pytest.mark.parametrize(
    "connection_string",
    [
        "UseDevelopmentStorage=true",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
    ],
)
def test_azurite_is_the_only_storage_connection_string_accepted(connection_string: str) -> None:
    settings = load_settings({**NAMESPACE, "RecordStateStorage": connection_string})
    assert settings.record_state.emulator_connection_string == connection_string


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RecordStateStorage", "DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=secret", "accepted only for Azurite"),
        (
            "RecordStateStorage",
            "AccountName=devstoreaccount1;AccountKey=x;TableEndpoint=http://storage.example.com/devstoreaccount1",
            "accepted only for Azurite",
        ),
        ("RecordStateStorage__tableServiceUri", "http://contosobridge.table.core.windows.net", "not a table endpoint"),
        ("RECORD_STATE_TABLE", "booking-state", "not a table name"),
        ("BOOKINGS_MAX_DELIVERY_COUNT", "0", "whole number from 1"),
        ("BOOKINGS_MAX_DELIVERY_COUNT", "ten", "whole number from 1"),
        ("MAX_THROTTLE_REQUEUES", "-1", "whole number from 0"),
        ("GRAPH_RETRY_BUDGET_SECONDS", "600", "seconds from 1 to 240"),
        ("GRAPH_RETRY_BUDGET_SECONDS", "nan", "seconds from 1 to 240"),
        ("ALLOWED_ORGANIZERS", "ada@contoso.com", "must be an Entra object id"),
        ("ALLOWED_ORGANIZERS", f"crm eu={ORGANIZER}", "is not a source name"),
    ],
)
def test_each_lifecycle_setting_is_checked_and_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_settings({**NAMESPACE, name: value})
    assert caught.value.setting == name


def test_the_organizer_allow_list_restricts_organizers_and_optionally_sources() -> None:
    policy = load_settings(
        {**NAMESPACE, "ALLOWED_ORGANIZERS": f" {ORGANIZER.upper()} , lms={OTHER}, crm={OTHER},"}
    ).organizer_policy
    assert policy.permits("anything", ORGANIZER) and policy.permits("lms", OTHER.upper()) and policy.permits("crm", OTHER)
    assert not policy.permits("clinic", OTHER)
    assert not policy.permits("lms", "00000000-0000-0000-0000-000000000001")
