"""Settings an operator got wrong: the error names the setting and what it should hold, never the value.

A value pasted into the wrong setting may be a secret (a connection string with its SharedAccessKey in the
namespace setting, an instrumentation key in a queue name), and the host logs the error on every delivery.
A number written with a superscript or with another script's digits is a malformed setting like any other:
the last delivery still gets its `failed` result.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import ConfigurationError
from shared.settings import (
    APP_SETTINGS,
    BOOKINGS_MAX_DELIVERY_COUNT,
    GRAPH_RETRY_BUDGET_SECONDS,
    MAX_THROTTLE_REQUEUES,
    RECORD_STATE_CONNECTION,
    SERVICE_BUS_NAMESPACE,
    load_result_route,
    load_settings,
)

NAMESPACE = {SERVICE_BUS_NAMESPACE: "contoso-bookings.servicebus.windows.net"}
SECRET = "c2VjcmV0LWtleS10aGF0LW11c3QtbmV2ZXItYmUtbG9nZ2Vk"
PASTED_CONNECTION_STRING = f"Endpoint=sb://contoso-bookings.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={SECRET}"


def test_a_connection_string_pasted_into_the_namespace_setting_is_named_but_never_quoted() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({SERVICE_BUS_NAMESPACE: PASTED_CONNECTION_STRING})
    assert raised.value.setting == SERVICE_BUS_NAMESPACE
    assert "is not a host name" in str(raised.value)
    assert SECRET not in str(raised.value) and SECRET not in repr(raised.value)


@pytest.mark.parametrize("name", APP_SETTINGS)
def test_no_setting_quotes_a_secret_pasted_into_it(name: str) -> None:
    """Every setting the operator may set: whatever is wrong with the pasted value, the error does not carry it."""
    try:
        load_settings({**NAMESPACE, name: PASTED_CONNECTION_STRING})
    except ConfigurationError as error:
        assert SECRET not in str(error), str(error)
        assert error.setting == name or error.setting in APP_SETTINGS


def test_an_azurite_key_base64_cannot_hold_is_named_with_what_the_setting_should_hold() -> None:
    """base64 refuses a key with a character beyond ASCII with a plain ValueError, not binascii.Error."""
    value = f"AccountName=devstoreaccount1;AccountKey=\u00e9{SECRET};TableEndpoint=http://127.0.0.1:10002/devstoreaccount1"
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**NAMESPACE, RECORD_STATE_CONNECTION: value})
    assert raised.value.setting == RECORD_STATE_CONNECTION
    assert "accepted only for Azurite" in str(raised.value) and SECRET not in str(raised.value)


@given(value=st.text(min_size=1, max_size=40).filter(lambda text: text.strip() != ""))
def test_no_malformed_value_is_ever_quoted_by_the_namespace_setting(value: str) -> None:
    marked = f"{value}{SECRET}"
    try:
        load_settings({SERVICE_BUS_NAMESPACE: marked})
    except ConfigurationError as error:
        assert SECRET not in str(error)


@pytest.mark.parametrize("name", [BOOKINGS_MAX_DELIVERY_COUNT, MAX_THROTTLE_REQUEUES, GRAPH_RETRY_BUDGET_SECONDS])
@pytest.mark.parametrize("value", ["10\u00b2", "\u0661\u0660", "\uff11\uff10", "1_0", "+10", " 1 0 ", "1e1", "inf", "nan"])
def test_a_number_in_digits_other_than_0_to_9_is_a_configuration_error_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**NAMESPACE, name: value})
    assert raised.value.setting == name


def test_a_unicode_digit_in_the_delivery_count_leaves_the_result_route_at_its_default() -> None:
    assert load_result_route({**NAMESPACE, BOOKINGS_MAX_DELIVERY_COUNT: "10\u00b2"}).max_delivery_count == 10


def test_a_unicode_digit_in_an_integer_setting_still_gets_the_last_delivery_a_failed_result(
    host: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.runtime import reset_pipeline
    from tests.bookings import booking

    monkeypatch.setenv(MAX_THROTTLE_REQUEUES, "10\u00b2")
    reset_pipeline()
    with pytest.raises(ConfigurationError) as raised:
        host.deliver(booking(), delivery_count=10)  # type: ignore[attr-defined]
    assert raised.value.setting == MAX_THROTTLE_REQUEUES
    assert host.last_result().status.value == "failed"  # type: ignore[attr-defined]
