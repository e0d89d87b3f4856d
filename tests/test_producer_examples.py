"""The producer examples in docs/producers/ compute the externalId the contract defines and set it as the session id.

Each runs in its own language where this machine has it (Python always, Node.js and Java when installed) against the
contract's test vectors in docs/contract.md and a fixed set of records with text from several scripts; the C# one is
checked only by reading, plus the namespace it names.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from shared.booking import parse_booking
from shared.external_id import EXTERNAL_ID_NAMESPACE, derive_external_id
from tests.bookings import REPO_ROOT

PRODUCERS = REPO_ROOT / "docs" / "producers"
SAMPLE = json.loads((REPO_ROOT / "samples" / "01-new-booking.json").read_text(encoding="utf-8"))


def _contract_vectors() -> list[tuple[str, str, str]]:
    """The externalId table of docs/contract.md: source, recordId, externalId (the first code span of each cell)."""
    contract = (REPO_ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    section = contract.split("\n## externalId\n", 1)[1].split("\n## ", 1)[0]
    rows = [re.findall(r"`([^`]*)`", row) for row in section.splitlines() if row.startswith("| `")]
    return [(cells[0], cells[1], cells[2]) for cells in rows]


def _records() -> list[tuple[str, str]]:
    """The vectors' records and seeded random ones: sources from the contract's alphabet, record ids with accents,
    CJK, characters beyond the BMP and spaces at either end, as other languages' UTF-8 encoders meet them."""
    chooser = random.Random(20261201)
    source_alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
    text_alphabet = "aZ09 -_/#:.(),ÄéßøÅ会議予約курсΩ😀🇸🇪𝄞\u00a0\u00ad"
    generated = [
        (
            "".join(chooser.choice(source_alphabet) for _ in range(chooser.randint(1, 64))),
            "".join(chooser.choice(text_alphabet) for _ in range(chooser.randint(1, 40))),
        )
        for _ in range(200)
    ]
    return [(source, record_id) for source, record_id, _ in _contract_vectors()] + generated


def _python_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("booking_producer", PRODUCERS / "booking_producer.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_contract_publishes_its_vectors_and_the_bridge_derives_them() -> None:
    vectors = _contract_vectors()
    assert len(vectors) == 4 and ("crm-eu", "BK-10023 ", "de052c0d-7097-5a3d-8ae2-693f9828deda") in vectors
    assert all(derive_external_id(source, record_id) == expected for source, record_id, expected in vectors)


def test_the_python_example_computes_the_contract_vectors_and_every_record() -> None:
    example = _python_example()

    assert [example.external_id(source, record_id) for source, record_id, _ in _contract_vectors()] == [
        expected for _, _, expected in _contract_vectors()
    ]
    assert all(
        example.external_id(source, record_id) == derive_external_id(source, record_id) for source, record_id in _records()
    )


def test_the_python_example_sends_a_booking_the_bridge_accepts_in_its_session() -> None:
    message = _python_example().booking_message(SAMPLE)

    body = b"".join(message.body)
    assert parse_booking(body).record_id == SAMPLE["recordId"]
    assert message.session_id == derive_external_id(SAMPLE["source"], SAMPLE["recordId"])
    assert message.message_id == f"{message.session_id}:{SAMPLE['revision']}"
    assert message.content_type == "application/json"


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_the_node_example_computes_the_contract_vectors_and_every_record() -> None:
    script = f"""
import {{ externalId, bookingMessage }} from {json.dumps((PRODUCERS / "booking-producer.mjs").as_uri())};
let input = "";
for await (const chunk of process.stdin) input += chunk;
const {{ records, booking }} = JSON.parse(input);
const message = bookingMessage(booking);
console.log(JSON.stringify({{
  ids: records.map(([source, recordId]) => externalId(source, recordId)),
  message: {{ ...message, body: message.body.toString("utf8") }},
}}));
"""
    records = _records()

    completed = subprocess.run(
        [str(NODE), "--input-type=module", "-e", script],
        input=json.dumps({"records": records, "booking": SAMPLE}),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=True,
    )

    answer = json.loads(completed.stdout)
    assert answer["ids"] == [derive_external_id(source, record_id) for source, record_id in records]
    message = answer["message"]
    assert parse_booking(message["body"].encode()).record_id == SAMPLE["recordId"]
    assert message["sessionId"] == derive_external_id(SAMPLE["source"], SAMPLE["recordId"])
    assert (message["messageId"], message["contentType"]) == (f"{message['sessionId']}:{SAMPLE['revision']}", "application/json")


JAVAC, JAVA = shutil.which("javac"), shutil.which("java")
JAVA_CHECK = """
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

public final class VectorCheck {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        for (String line; (line = in.readLine()) != null; ) {
            String[] record = line.split("\\t", 2);
            out.println(ExternalId.of(record[0], record[1]));
        }
    }
}
"""


@pytest.mark.skipif(JAVAC is None or JAVA is None, reason="no Java compiler and runtime")
def test_the_java_example_computes_the_contract_vectors_and_every_record(tmp_path: Path) -> None:
    assert JAVAC and JAVA
    (tmp_path / "VectorCheck.java").write_text(JAVA_CHECK, encoding="utf-8")
    subprocess.run(
        [
            JAVAC,
            "-encoding",
            "UTF-8",
            "-d",
            str(tmp_path),
            str(PRODUCERS / "ExternalId.java"),
            str(tmp_path / "VectorCheck.java"),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    records = _records()
    assert not any("\t" in record_id or "\n" in record_id for _, record_id in records)  # the check reads tab-separated lines

    completed = subprocess.run(
        [JAVA, "-cp", str(tmp_path), "VectorCheck"],
        input="".join(f"{source}\t{record_id}\n" for source, record_id in records),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=True,
    )

    assert completed.stdout.splitlines() == [derive_external_id(source, record_id) for source, record_id in records]


def test_every_example_names_the_contract_namespace() -> None:
    """The C# example cannot run here; like the others, it must at least hash under the contract's namespace."""
    namespace = str(EXTERNAL_ID_NAMESPACE)
    assert namespace in (PRODUCERS / "booking_producer.py").read_text(encoding="utf-8")
    assert namespace in (PRODUCERS / "booking-producer.mjs").read_text(encoding="utf-8")
    assert namespace in (PRODUCERS / "ExternalId.java").read_text(encoding="utf-8")
    assert f'Convert.FromHexString("{EXTERNAL_ID_NAMESPACE.hex}")' in (PRODUCERS / "ExternalId.cs").read_text(encoding="utf-8")


UNREVISIONED = {key: value for key, value in SAMPLE.items() if key != "revision"}


def test_the_python_producer_example_sends_a_valid_booking_without_revision() -> None:
    """contract.md: `revision` is optional. The Python example sends such a booking too, with a message id that is
    the same when the same booking is sent again and differs for another booking of the record."""
    assert parse_booking(json.dumps(UNREVISIONED).encode()).revision is None  # the bridge accepts it
    producer = _python_example()

    message = producer.booking_message(UNREVISIONED)

    assert message.session_id == derive_external_id(UNREVISIONED["source"], UNREVISIONED["recordId"])
    assert message.message_id == producer.booking_message(dict(UNREVISIONED)).message_id
    assert message.message_id != producer.booking_message({**UNREVISIONED, "subject": "Moved"}).message_id
    assert message.message_id.startswith(f"{message.session_id}:") and "None" not in message.message_id


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_the_node_producer_example_gives_a_booking_without_revision_a_real_message_id() -> None:
    """The same in Node.js: a booking without `revision` gets a message id of its own, the same one the Python
    example gives the same body."""
    script = f"""
import {{ bookingMessage }} from {json.dumps((PRODUCERS / "booking-producer.mjs").as_uri())};
const booking = {json.dumps(UNREVISIONED)};
console.log(JSON.stringify([bookingMessage(booking), bookingMessage({{ ...booking, subject: "Moved" }})].map(m => m.messageId)));
"""
    completed = subprocess.run(
        [str(NODE), "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=True
    )

    first, moved = json.loads(completed.stdout)
    assert "undefined" not in first and first != moved
    body = json.dumps(UNREVISIONED, separators=(",", ":"), ensure_ascii=False).encode()
    session_id = derive_external_id(UNREVISIONED["source"], UNREVISIONED["recordId"])
    assert first == _python_example().message_id(session_id, UNREVISIONED, body)
