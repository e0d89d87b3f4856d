"""The invitation text, localized: `language` goes to Graph as Accept-Language on every request
of the booking, and the result carries Graph's joinInformation decoded, bounded and never logged.

Through create_meeting as the host calls it, with Graph on loopback (the simulator), the state table on
Azurite and the Service Bus leg intercepted at the SDK; the decoding itself is pure and tested alone.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.join_information import (
    JOIN_INFORMATION_TOO_LARGE,
    MAX_JOIN_INFORMATION_BYTES,
    percent_decoded,
    read_join_information,
)
from shared.result import ResultStatus
from simulator import GraphSimulator
from tests.bookings import REPO_ROOT, booking
from tests.conftest import HostInvoker

SEED = REPO_ROOT.parent / "shared" / "seeds" / "000_ca8abd54339a934e.txt"


def test_a_booking_in_japanese_gets_the_invitation_in_japanese(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(language="ja"))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED and result.meeting is not None
    invitation = result.meeting.join_information
    assert invitation is not None and invitation.content_type == "html"
    assert "会議 ID" in invitation.content and result.meeting.join_web_url in invitation.content.replace("&amp;", "&")
    assert "%3C" not in invitation.content


def test_without_language_graphs_default_english_applies_and_the_result_still_carries_it(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(booking())

    result = host.last_result()
    assert result.meeting is not None and result.meeting.join_information is not None
    assert "Join the meeting now" in result.meeting.join_information.content
    assert all("accept-language" not in request.headers for request in graph.graph_requests())


def test_every_graph_request_of_the_booking_carries_its_language(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1, language="de-DE", options={"allowMeetingChat": "limited"}))
    host.deliver(booking(revision=2, language="de-DE", subject="Verschoben"))
    host.deliver(booking(revision=3, action="cancel", language="de-DE"))

    methods = [(request.method, request.headers.get("accept-language")) for request in graph.graph_requests()]
    assert {method for method, _ in methods} == {"POST", "PATCH", "DELETE"}
    assert all(language == "de-DE" for _, language in methods), methods
    assert "Besprechungs-ID" in (host.sent.results()[1].meeting.join_information.content)  # type: ignore[union-attr]


def test_an_invalid_language_is_rejected_naming_the_field(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(language="ja\r\nX-Injected: 1"))

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED and result.error is not None
    assert [detail.field for detail in result.error.details] == ["language"]
    assert "BCP 47" in result.error.details[0].reason
    assert graph.graph_requests() == []


def test_the_invitation_text_is_never_logged(host: HostInvoker, graph: GraphSimulator, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        host.deliver(booking(language="ja"))

    assert host.last_result().meeting.join_information is not None  # type: ignore[union-attr]
    assert "会議" not in caplog.text and "me-email" not in caplog.text


def test_an_oversized_invitation_is_left_out_with_a_warning(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = {"contentType": "html", "content": quote_plus("data:text/html,<p>" + "x" * (MAX_JOIN_INFORMATION_BYTES + 1))}
    monkeypatch.setattr("simulator.graph_api.join_information", lambda *args: huge)

    host.deliver(booking(options={"allowMeetingChat": "limited"}))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED and result.meeting is not None
    assert result.meeting.join_information is None and result.meeting.join_web_url
    assert [warning.code for warning in result.warnings] == [JOIN_INFORMATION_TOO_LARGE]
    assert len(result.model_dump_json(by_alias=True).encode()) < 16 * 1024


def test_a_cancel_says_nothing_of_the_invitation_text_of_the_meeting_it_removed(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancel's lookup reads the meeting only to find it: its result has no meeting, so no warning about one."""
    huge = {"contentType": "html", "content": quote_plus("data:text/html,<p>" + "x" * (MAX_JOIN_INFORMATION_BYTES + 1))}
    monkeypatch.setattr("simulator.graph_api.join_information", lambda *args: huge)

    host.deliver(booking(revision=1))
    host.deliver(booking(revision=2, action="cancel"))

    result = host.last_result()
    assert result.status is ResultStatus.CANCELLED and result.meeting is None
    assert result.warnings == []


# The decoding, on Graph's own example and on values Graph should never send.


@pytest.mark.skipif(not SEED.exists(), reason=f"the Graph seed documents are not beside this checkout ({SEED})")
def test_graphs_japanese_example_decodes_to_html() -> None:
    content = re.search(r'"joinInformation": \{\s*"content": "([^"]+)"', SEED.read_text(encoding="utf-8"))
    assert content is not None

    decoded = read_join_information({"content": content.group(1), "contentType": "Html"}).value

    assert decoded is not None and decoded.content_type == "html"
    assert "Microsoft Teams 会議に参加" in decoded.content
    assert 'href="tel:+16477490000,,11160000&#35; "' in decoded.content  # %2B is a plus, + a space
    assert "font-family:'Segoe UI'" in decoded.content


@pytest.mark.parametrize(
    "item_body",
    [
        None,
        "data:text/html,<p>hi</p>",
        {"content": 42, "contentType": "html"},
        {"content": "data:text/plain,hello", "contentType": "html"},
        {"content": "data:text/html;base64,PHA+aGk8L3A+", "contentType": "html"},
        {"content": "data:text/html,%3Cp%3Ehi%3C%2Fp%3E", "contentType": "text"},
        {"content": "data:text/html,%3Cp%3E%00%3C%2Fp%3E", "contentType": "html"},
        {"content": "data:text/html,+++", "contentType": "html"},
    ],
)
def test_what_is_not_a_percent_encoded_html_data_uri_is_left_out(item_body: Any) -> None:
    assert read_join_information(item_body).value is None
    assert not read_join_information(item_body).too_large


def test_the_bound_is_measured_as_the_result_will_carry_it() -> None:
    quotes = '"' * (MAX_JOIN_INFORMATION_BYTES // 2 + 1)  # each is escaped to two bytes in the result's JSON

    reading = read_join_information({"content": quote_plus("data:text/html," + quotes), "contentType": "html"})

    assert reading.value is None and reading.too_large
    assert len(json.dumps(quotes)) > MAX_JOIN_INFORMATION_BYTES


def test_a_huge_value_is_refused_without_decoding_it() -> None:
    reading = read_join_information({"content": "data:text/html," + "%41" * (10 * MAX_JOIN_INFORMATION_BYTES)})

    assert reading.too_large and reading.value is None


def test_graphs_unencoded_prefix_form_is_read_too() -> None:
    reading = read_join_information({"content": "data:text/html;charset=utf-8,%3cp%3eHallo+Welt%3c%2fp%3e"})

    assert reading.value is not None and reading.value.content == "<p>Hallo Welt</p>"


# What a hostile or broken Graph could put in the URI: escapes in both cases, valid and broken, the
# quoted-printable decoder's own "=" and line breaks, "+", multi-byte and astral text, unpaired surrogates.
URI_PIECES = st.sampled_from(
    ["%", "=", "+", "%3c", "%3C", "%3D", "%3d", "%e6%97%a5", "%E6%97", "%ZZ", "%0", "%0A", "=0A", "=\n", "\r\n", "a", "1", "F"]
)
URI_TEXT = st.lists(st.one_of(URI_PIECES, st.text(max_size=3), st.sampled_from(["\ud800", "é", "日", "🙂"])), max_size=40)


def unquoted_or_refused(content: str) -> str | type[UnicodeError]:
    """What the decoder must agree with: unquote_plus, and no unpaired surrogate in the input."""
    try:
        content.encode("utf-8")
        return unquote_plus(content, errors="strict")
    except UnicodeError:
        return UnicodeError


@given(URI_TEXT.map("".join))
def test_the_fast_decoder_decodes_exactly_as_unquote_plus(content: str) -> None:
    try:
        decoded: str | type[UnicodeError] = percent_decoded(content)
    except UnicodeError:
        decoded = UnicodeError
    assert decoded == unquoted_or_refused(content)


@pytest.mark.skipif(not SEED.exists(), reason=f"the Graph seed documents are not beside this checkout ({SEED})")
def test_the_fast_decoder_decodes_graphs_own_example_as_unquote_plus() -> None:
    content = re.search(r'"joinInformation": \{\s*"content": "([^"]+)"', SEED.read_text(encoding="utf-8"))
    assert content is not None and content.group(1).count("%") > 100

    assert percent_decoded(content.group(1)) == unquote_plus(content.group(1), errors="strict")
