"""Pseudonyms already handed to partners must never change.

The expected strings below were computed by the hand-padded HMAC-SHA256 that ``policy.py`` used
before it moved to the standard library's ``hmac`` (recorded at commit adbcab5). Keys cover the
three RFC 2104 cases: shorter than the SHA-256 block, exactly one block (64 bytes) and longer
(hashed first); identifiers cover ASCII, non-ASCII and the empty string.
"""

from __future__ import annotations

import hmac

import pytest

from keiretsu.node.policy import PSEUDONYM_PREFIX, _Keyed, pseudonym

RECORDED = [
    (
        b"s3cret",
        "retailer",
        "urn:epc:id:sgtin:0614141.107346.2017",
        "urn:keiretsu:pseudo:d47e057a2bd40f2610c8abf1bbb01741",
    ),
    (b"", "", "", "urn:keiretsu:pseudo:b613679a0814d9ec772f95d778c35fc5"),
    # secret + NUL + partner = 65 bytes: longer than a block, the key is hashed first
    (b"k" * 63, "p", "x", "urn:keiretsu:pseudo:ebe8e6e033761a5ff4e4a5e61271c0f2"),
    # exactly 64 bytes: used as is, no padding
    (
        b"k" * 62,
        "p",
        "caf\u00e9 \u2603 lot-7",
        "urn:keiretsu:pseudo:ea39d88b9a4e73f4aaf156314407cefa",
    ),
    (
        bytes(range(256)),
        "distributor-\u00e9",
        "https://id.gs1.org/01/09521234543213/21/12345",
        "urn:keiretsu:pseudo:fefdaecb8ba21c6065562271b72c7750",
    ),
]


@pytest.mark.parametrize(("secret", "partner", "identifier", "expected"), RECORDED)
def test_pseudonym_is_unchanged(
    secret: bytes, partner: str, identifier: str, expected: str
) -> None:
    assert pseudonym(identifier, secret=secret, partner=partner) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (b"\xff" * 64, "eefc268fa0f236d153574de9eb8eed87"),
        (b"\x00" * 65, "bd10d9b4fef20ede625ff7402f67a93c"),
    ],
)
def test_keyed_digest_is_unchanged(key: bytes, expected: str) -> None:
    # the same keyed digest names the aggregates a partner receives
    keyed = _Keyed(key)
    assert keyed.digest("abc") == expected
    # reusable: a second identifier does not disturb the first
    keyed.digest("other")
    assert keyed.digest("abc") == expected


def test_pseudonym_is_hmac_sha256() -> None:
    key = b"s3cret\x00retailer"
    identifier = "urn:epc:id:sgtin:0614141.107346.2017"
    digest = hmac.new(key, identifier.encode(), "sha256").hexdigest()[:32]
    assert pseudonym(identifier, secret=b"s3cret", partner="retailer") == PSEUDONYM_PREFIX + digest
