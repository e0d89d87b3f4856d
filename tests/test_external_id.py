"""externalId: deterministic, stable for ever, and computable by upstream systems from docs/contract.md."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from shared.external_id import EXTERNAL_ID_NAMESPACE, derive_external_id
from tests.bookings import REPO_ROOT

# Pinned for ever and published in docs/contract.md (and the README): changing any of them orphans existing meetings.
VECTORS = [
    ("crm-eu", "BK-10023", "5e106aa4-0b14-5bcb-b472-250d61821683"),
    ("clinic.north", "appointment/2026/000017", "12de7f88-373c-5f48-a628-d957cf4f653d"),
    ("lms", "Kurs Ä-12 (Gruppe B)", "71793b17-ee67-5d86-bae2-b4917c0658cc"),
    ("crm-eu", "BK-10023 ", "de052c0d-7097-5a3d-8ae2-693f9828deda"),
]


@pytest.mark.parametrize(("source", "record_id", "expected"), VECTORS)
def test_published_vectors(source: str, record_id: str, expected: str) -> None:
    assert derive_external_id(source, record_id) == expected


@pytest.mark.parametrize(("source", "record_id", "expected"), VECTORS)
def test_vectors_follow_rfc_9562_uuidv5_as_readme_describes(source: str, record_id: str, expected: str) -> None:
    """Recompute by hand, as an upstream system in another language would: SHA-1(namespace + name)."""
    digest = bytearray(hashlib.sha1(EXTERNAL_ID_NAMESPACE.bytes + f"{source}\n{record_id}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC variant
    hex_digits = digest.hex()
    by_hand = f"{hex_digits[:8]}-{hex_digits[8:12]}-{hex_digits[12:16]}-{hex_digits[16:20]}-{hex_digits[20:]}"
    assert by_hand == expected


def test_namespace_is_the_documented_one() -> None:
    assert str(EXTERNAL_ID_NAMESPACE) == "ab4977e4-08f1-46c6-8a72-87cec761415d"
    assert str(EXTERNAL_ID_NAMESPACE) in (REPO_ROOT / "docs" / "contract.md").read_text(encoding="utf-8")


def test_same_in_another_process_with_another_hash_seed() -> None:
    code = "from shared.external_id import derive_external_id as d; print(d('crm-eu', 'BK-10023'))"
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env={"PYTHONHASHSEED": "12345"}, capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "5e106aa4-0b14-5bcb-b472-250d61821683"


def test_pair_encoding_is_unambiguous() -> None:
    # Pairs that a naive concatenation would confuse map to different meetings.
    assert derive_external_id("crm", "eu-1") != derive_external_id("crm-eu", "1")
    assert derive_external_id("a.b", "c") != derive_external_id("a", "b.c")


def test_newline_cannot_be_part_of_either_half() -> None:
    with pytest.raises(ValueError, match="newline"):
        derive_external_id("crm", "a\nb")
