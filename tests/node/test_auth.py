"""Signed node-to-node requests, the audit log they leave, and local users' API tokens.

Real Ed25519 keys and real JWTs throughout; the clock is passed in (``now``) so that expiry is
tested to the second without sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiretsu.node import auth
from keiretsu.node.auth import (
    NODE_TOKEN_TTL,
    AuditLog,
    AuthError,
    TokenStore,
    Verifier,
    bearer_token,
    body_digest,
    sign_request,
)
from keiretsu.node.identity import Identity

NOW = 1_800_000_000.0
HERE = "beta-dc"  # the receiving node
ACME = Identity.create("acme")  # a partner of beta-dc
STRANGER = Identity.create("stranger")  # not a partner
REQUEST: dict[str, Any] = {
    "method": "POST",
    "path": "/capture?GS1-Capture-Error-Behaviour=rollback",
    "body": b'{"type": "EPCISDocument", "epcisBody": {"eventList": []}}',
}


def partners() -> dict[str, Ed25519PublicKey]:
    return {"acme": ACME.public_key}


def verifier(tmp_path: Path | None = None, **options: Any) -> Verifier:
    audit = AuditLog(tmp_path / "audit.log") if tmp_path is not None else None
    options.setdefault("started_at", NOW - 3600)
    return Verifier(HERE, partners, audit, **options)


def signed(identity: Identity = ACME, *, at: float = NOW, **changes: Any) -> str:
    request = {**REQUEST, **changes}
    audience = request.pop("audience", HERE)
    return sign_request(identity, audience=audience, now=at, **request)


def refusal(v: Verifier, token: str | None, *, at: float = NOW, **changes: Any) -> AuthError:
    with pytest.raises(AuthError) as caught:
        v.verify(token, now=at, peer="192.0.2.7", **{**REQUEST, **changes})
    return caught.value


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    return AuditLog(tmp_path / "audit.log").read()


# --- accepted ---------------------------------------------------------------------------------


def test_a_signed_request_is_accepted_and_logged(tmp_path: Path) -> None:
    v = verifier(tmp_path)
    assert v.verify(signed(), now=NOW + 1, peer="192.0.2.7", **REQUEST) == "acme"
    [line] = audit_lines(tmp_path)
    assert line["outcome"] == "allowed"
    assert line["subject"] == "acme"
    assert line["peer"] == "192.0.2.7"
    assert (line["method"], line["path"]) == ("POST", REQUEST["path"])
    assert "reason" not in line


def test_the_token_carries_what_the_docs_say() -> None:
    token = signed()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == ACME.fingerprint()
    # an ordinary JWT library reads it with the sender's public key
    lenient = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}
    claims = jwt.decode(
        token, ACME.public_key, algorithms=["EdDSA"], audience=HERE, options=lenient
    )
    assert claims["iss"] == claims["sub"] == "acme"
    assert claims["exp"] - claims["iat"] == NODE_TOKEN_TTL
    assert claims["htm"] == "POST"
    assert claims["htu"] == REQUEST["path"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(REQUEST["body"]).digest()).rstrip(b"=")
    assert claims["bdh"] == digest.decode()
    assert len(base64.urlsafe_b64decode(claims["jti"] + "==")) == 16
    assert signed() != token  # a fresh jti every time


def test_method_case_does_not_matter() -> None:
    assert verifier().verify(signed(method="post"), now=NOW, **REQUEST) == "acme"


def test_leeway_tolerates_a_few_seconds_of_clock_difference() -> None:
    v = verifier()
    assert v.verify(signed(), now=NOW + NODE_TOKEN_TTL + 5, **REQUEST) == "acme"
    assert v.verify(signed(at=NOW + 5), now=NOW, **REQUEST) == "acme"


def test_a_refused_token_is_not_used_up() -> None:
    # an attacker sending a captured token with another body must not block the real request
    v = verifier()
    token = signed()
    assert refusal(v, token, body=b"forged").reason == "body-mismatch"
    assert v.verify(token, now=NOW, **REQUEST) == "acme"


def test_partners_removed_are_refused_at_once() -> None:
    keys = {"acme": ACME.public_key}
    v = Verifier(HERE, lambda: keys, started_at=NOW - 60)
    assert v.verify(signed(), now=NOW, **REQUEST) == "acme"
    del keys["acme"]
    assert refusal(v, signed()).reason == "unknown-key"


# --- refused, each with its reason and one audit line ------------------------------------------


def _unsigned_alg_none() -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    claims = jwt.decode(signed(), options={"verify_signature": False})
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}."


def _another_acme() -> Identity:
    return Identity.create("acme")  # same name, a different key


CASES: list[tuple[str, Any, dict[str, Any], str]] = [
    ("no token", lambda: None, {}, "unsigned"),
    ("empty token", lambda: "", {}, "unsigned"),
    ("alg none", _unsigned_alg_none, {}, "unsigned"),
    ("garbage", lambda: "not-a-token", {}, "malformed"),
    ("three garbage parts", lambda: "a.b.c", {}, "malformed"),
    ("oversized", lambda: "e" * 100_000, {}, "malformed"),
    ("signed by a stranger", lambda: signed(STRANGER), {}, "unknown-key"),
    ("known name, another key", lambda: signed(_another_acme()), {}, "bad-signature"),
    ("expired", lambda: signed(at=NOW - 100), {}, "expired"),
    ("just past leeway", lambda: signed(at=NOW - NODE_TOKEN_TTL - 6), {}, "expired"),
    ("from the future", lambda: signed(at=NOW + 60), {}, "not-yet-valid"),
    ("lifetime 10 min", lambda: signed(ttl=600), {}, "lifetime-too-long"),
    ("wrong audience", lambda: signed(audience="gamma"), {}, "wrong-audience"),
    ("body altered", signed, {"body": REQUEST["body"] + b" "}, "body-mismatch"),
    ("body dropped", signed, {"body": b""}, "body-mismatch"),
    ("path altered", signed, {"path": "/capture"}, "path-mismatch"),
    (
        "query altered",
        signed,
        {"path": REQUEST["path"].replace("rollback", "proceed")},
        "path-mismatch",
    ),
    ("method altered", signed, {"method": "PUT"}, "method-mismatch"),
]


@pytest.mark.parametrize(
    ("make", "changes", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_refusal_gives_its_reason_and_one_audit_line(
    tmp_path: Path, make: Any, changes: dict[str, Any], reason: str
) -> None:
    error = refusal(verifier(tmp_path), make(), **changes)
    assert error.reason.startswith(reason)
    assert error.detail
    [line] = audit_lines(tmp_path)
    assert line["outcome"] == "refused"
    assert line["reason"] == error.reason
    assert line["peer"] == "192.0.2.7"
    datetime.fromisoformat(line["time"])


def test_a_partner_with_a_new_key_is_told_which_keys_differ(tmp_path: Path) -> None:
    other = _another_acme()
    error = refusal(verifier(tmp_path), signed(other))
    assert error.reason == "bad-signature"
    assert other.fingerprint() in error.detail
    assert ACME.fingerprint() in error.detail
    assert audit_lines(tmp_path)[0]["subject"] == "acme"  # who it claimed to be


def test_a_replayed_token_is_refused_every_time_after_the_first(tmp_path: Path) -> None:
    v = verifier(tmp_path)
    token = signed()
    assert v.verify(token, now=NOW, **REQUEST) == "acme"
    assert refusal(v, token, at=NOW + 1).reason == "replayed"
    assert refusal(v, token, at=NOW + 2).reason == "replayed"
    assert [(x["outcome"], x.get("reason")) for x in audit_lines(tmp_path)] == [
        ("allowed", None),
        ("refused", "replayed"),
        ("refused", "replayed"),
    ]


def test_a_token_made_before_the_node_restarted_is_refused(tmp_path: Path) -> None:
    token = signed(at=NOW - 10)  # still within its 30 s
    before = verifier(started_at=NOW - 60)
    assert before.verify(token, now=NOW - 9, **REQUEST) == "acme"
    restarted = verifier(tmp_path, started_at=NOW)  # the replay memory is gone
    error = refusal(restarted, token)
    assert error.reason == "expired"
    assert "before this node started" in error.detail
    assert audit_lines(tmp_path)[0]["reason"] == "expired"
    assert restarted.verify(signed(), now=NOW, **REQUEST) == "acme"  # a re-signed retry passes


# --- the two steps: headers first, the body after ------------------------------------------------


def test_the_headers_are_checked_without_the_body_and_use_nothing_up(tmp_path: Path) -> None:
    v = verifier(tmp_path)
    token = signed()
    request = {"method": REQUEST["method"], "path": REQUEST["path"]}
    pending = v.check_headers(token, now=NOW, **request)
    assert pending.issuer == "acme"
    assert audit_lines(tmp_path) == []  # nothing decided yet
    # a body that does not match refuses the request, but the token is not used up
    with pytest.raises(AuthError) as caught:
        v.finish(pending, body_digest(b"forged"), now=NOW)
    assert caught.value.reason == "body-mismatch"
    assert (
        v.finish(v.check_headers(token, now=NOW, **request), body_digest(REQUEST["body"]), now=NOW)
        == "acme"
    )
    # once used, a token is refused on its headers alone: its body is never needed
    with pytest.raises(AuthError) as caught:
        v.check_headers(token, now=NOW + 1, **request)
    assert caught.value.reason == "replayed"
    assert [(x["outcome"], x.get("reason")) for x in audit_lines(tmp_path)] == [
        ("refused", "body-mismatch"),
        ("allowed", None),
        ("refused", "replayed"),
    ]


def test_of_two_requests_with_one_token_racing_past_the_headers_one_is_accepted() -> None:
    v = verifier()
    token = signed()
    request = {"method": REQUEST["method"], "path": REQUEST["path"]}
    first = v.check_headers(token, now=NOW, **request)
    second = v.check_headers(token, now=NOW, **request)
    assert v.finish(first, body_digest(REQUEST["body"]), now=NOW) == "acme"
    with pytest.raises(AuthError) as caught:
        v.finish(second, body_digest(REQUEST["body"]), now=NOW)
    assert caught.value.reason == "replayed"


# --- the journal: used tokens survive a restart ---------------------------------------------------


def journaled(tmp_path: Path, *, started_at: float = NOW, booted: float | None = None) -> Verifier:
    """A verifier with a journal; its machine started a day ago (real time, as the journal's
    file times are), unless ``booted`` says otherwise."""
    boot_time = time.time() - 86_400 if booted is None else booted
    return verifier(
        tmp_path, started_at=started_at, journal=tmp_path / "replay.log", boot_time=boot_time
    )


def test_a_token_used_before_a_restart_is_refused_after_it(tmp_path: Path) -> None:
    token = signed(at=NOW)
    before = journaled(tmp_path, started_at=NOW - 3600)
    assert before.verify(token, now=NOW + 1, **REQUEST) == "acme"
    # the process is killed (nothing closed, nothing flushed beyond write(2)) and restarts
    # 2 s later: every token it accepted is still known, so the replay is refused
    after = journaled(tmp_path, started_at=NOW + 3)
    assert after.not_before is None  # nothing made before the restart is refused for it
    assert refusal(after, token, at=NOW + 20).reason == "replayed"
    assert after.verify(signed(at=NOW - 10), now=NOW + 20, **REQUEST) == "acme"  # a retry
    assert audit_lines(tmp_path)[-2]["reason"] == "replayed"


def test_the_journal_keeps_only_live_tokens(tmp_path: Path) -> None:
    v = journaled(tmp_path, started_at=NOW - 3600)
    for at in (NOW - 100, NOW - 50, NOW):
        assert v.verify(signed(at=at), now=at, **REQUEST) == "acme"
    assert len((tmp_path / "replay.log").read_text().splitlines()) == 3
    journaled(tmp_path, started_at=NOW + 1)  # a restart rewrites it with the live ones
    lines = (tmp_path / "replay.log").read_text().splitlines()
    assert len(lines) == 1
    assert float(lines[0].split("\t")[0]) == NOW + NODE_TOKEN_TTL + 5


def test_the_journal_compacts_itself_while_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "JOURNAL_COMPACT_LINES", 50)
    v = journaled(tmp_path, started_at=NOW - 3600)
    tokens = []
    for i in range(300):  # a token every 10 s, each living 35 s: about 4 live at once
        at = NOW + i * 10.0
        tokens.append(signed(at=at))
        assert v.verify(tokens[-1], now=at, **REQUEST) == "acme"
        assert len((tmp_path / "replay.log").read_text().splitlines()) <= 51 + 5  # + the live
    # what was compacted away had expired; the live ones are still there for a restart
    after = journaled(tmp_path, started_at=at)
    for token in tokens[-3:]:
        assert refusal(after, token, at=at).reason == "replayed"


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    token = signed(at=NOW)
    assert journaled(tmp_path, started_at=NOW - 60).verify(token, now=NOW, **REQUEST) == "acme"
    with (tmp_path / "replay.log").open("a") as fh:
        fh.write("1800000030.000\tacme\tcut-sh")
    after = journaled(tmp_path, started_at=NOW + 1)
    assert refusal(after, token, at=NOW + 2).reason == "replayed"


def test_after_the_machine_restarted_older_tokens_are_refused(tmp_path: Path) -> None:
    # the journal was last written before the machine's boot: a crash of the machine may have
    # taken its last lines (not fsynced), so whatever was made before the boot is refused
    token = signed(at=NOW - 20)
    assert journaled(tmp_path, started_at=NOW - 60).verify(token, now=NOW - 20, **REQUEST) == "acme"
    written = (tmp_path / "replay.log").stat().st_mtime
    after = journaled(tmp_path, started_at=NOW, booted=written + 1)
    lost = signed(at=written - 1)  # as if accepted just before the crash, line lost
    assert refusal(after, lost, at=written + 10).reason == "expired"
    fresh = signed(at=written + 10)
    assert after.verify(fresh, now=written + 10, **REQUEST) == "acme"


def test_without_a_journal_tokens_made_before_the_start_are_refused(tmp_path: Path) -> None:
    first = journaled(tmp_path, started_at=NOW)  # no file yet: a first start
    assert refusal(first, signed(at=NOW - 10)).reason == "expired"
    assert first.verify(signed(at=NOW - 4), now=NOW, **REQUEST) == "acme"


def test_a_token_that_cannot_be_written_down_is_not_accepted(tmp_path: Path) -> None:
    v = journaled(tmp_path, started_at=NOW - 60)
    (tmp_path / "replay.log").unlink()
    (tmp_path / "replay.log").mkdir()  # the file is gone and cannot be made again
    assert refusal(v, signed()).reason == "busy"


def test_an_hmac_token_keyed_with_the_public_key_is_refused() -> None:
    # the classic alg-confusion attack: HS256 with the (public) key bytes as the secret
    claims = jwt.decode(signed(), options={"verify_signature": False})
    forged = jwt.encode(claims, ACME.public_key_text, algorithm="HS256")
    assert refusal(verifier(), forged).reason == "malformed"


def test_a_partner_cannot_speak_for_another_node() -> None:
    claims = jwt.decode(signed(), options={"verify_signature": False})
    forged = jwt.encode({**claims, "sub": "gamma"}, ACME.private_key, algorithm="EdDSA")
    assert refusal(verifier(), forged).reason == "malformed"


@pytest.mark.parametrize(
    "changes",
    [{"iat": "soon"}, {"exp": None}, {"jti": "x"}, {"aud": ["beta-dc"]}, {"exp": float("inf")}],
)
def test_signed_but_ill_formed_claims_are_refused(changes: dict[str, Any]) -> None:
    claims = jwt.decode(signed(), options={"verify_signature": False})
    token = jwt.encode({**claims, **changes}, ACME.private_key, algorithm="EdDSA")
    assert refusal(verifier(), token).reason == "malformed"


def test_replay_memory_is_bounded_and_frees_itself_as_tokens_expire() -> None:
    v = verifier(max_remembered=3)
    for _ in range(3):
        assert v.verify(signed(), now=NOW, **REQUEST) == "acme"
    assert refusal(v, signed()).reason == "busy"  # never forgets a live token to make room
    later = NOW + NODE_TOKEN_TTL + 6
    for _ in range(3):
        assert v.verify(signed(at=later), now=later, **REQUEST) == "acme"


def test_one_token_sent_many_times_at_once_is_accepted_once(tmp_path: Path) -> None:
    v = verifier(tmp_path)
    token = signed()
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        try:
            outcomes.append(v.verify(token, now=NOW, **REQUEST))
        except AuthError as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["acme"] + ["replayed"] * 7
    assert len(audit_lines(tmp_path)) == 8


# --- property-based: nothing altered gets through ----------------------------------------------

TOKEN = signed()
NO_HEALTH = [HealthCheck.too_slow]


@settings(max_examples=400, deadline=None, suppress_health_check=NO_HEALTH)
@given(
    index=st.integers(0, len(TOKEN) - 1),
    replacement=st.characters(codec="latin-1") | st.sampled_from("AQgw-_.="),
)
def test_any_single_character_change_in_a_token_is_refused(index: int, replacement: str) -> None:
    if TOKEN[index] == replacement:
        replacement = "A" if replacement != "A" else "B"
    changed = TOKEN[:index] + replacement + TOKEN[index + 1 :]
    with pytest.raises(AuthError):
        verifier().verify(changed, now=NOW, **REQUEST)


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_every_position_changed_to_its_neighbours_in_the_alphabet_is_refused() -> None:
    # exhaustive over positions; the neighbours of a base64 character differ in its lowest bits,
    # which is where a lax decoder lets two spellings mean the same signature
    v = verifier()
    for index, char in enumerate(TOKEN):
        at = ALPHABET.find(char)
        for replacement in {ALPHABET[(at + d) % 64] for d in (-1, 1, 2, 3)} - {char}:
            changed = TOKEN[:index] + replacement + TOKEN[index + 1 :]
            with pytest.raises(AuthError):
                v.verify(changed, now=NOW, **REQUEST)
    assert v.verify(TOKEN, now=NOW, **REQUEST) == "acme"  # none of them used the token up


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, len(TOKEN) - 1), extra=st.text(max_size=3))
def test_a_cut_or_extended_token_is_refused(cut: int, extra: str) -> None:
    for changed in (TOKEN[:cut] + extra, TOKEN + extra if extra else TOKEN[:cut]):
        assert changed != TOKEN
        with pytest.raises(AuthError):
            verifier().verify(changed, now=NOW, **REQUEST)


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=200), path=st.text(max_size=60), method=st.sampled_from(["GET", "PUT"])
)
def test_any_other_body_path_or_method_is_refused(body: bytes, path: str, method: str) -> None:
    if body != REQUEST["body"]:
        assert refusal(verifier(), TOKEN, body=body).reason == "body-mismatch"
    if path != REQUEST["path"]:
        assert refusal(verifier(), TOKEN, path=path).reason == "path-mismatch"
    assert refusal(verifier(), TOKEN, method=method).reason == "method-mismatch"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600) | st.binary(max_size=400).map(lambda b: base64.b64encode(b).decode()))
def test_any_text_as_a_token_gives_a_refusal_never_a_crash(text: str) -> None:
    with pytest.raises(AuthError):
        verifier().verify(text, now=NOW, **REQUEST)


# --- helpers around the header ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  kt_x ", "kt_x"), ("Basic dXNlcg==", None)],
)
def test_bearer_token_is_read_from_the_authorization_header(header: str, token: str | None) -> None:
    assert bearer_token(header) == token
    assert bearer_token(None) is None
    assert bearer_token("Bearer") is None


# --- the audit log ----------------------------------------------------------------------------


def test_audit_log_appends_across_restarts_and_leaves_out_empty_fields(tmp_path: Path) -> None:
    AuditLog(tmp_path / "audit.log").write("node-request", "allowed", subject="acme", peer=None)
    AuditLog(tmp_path / "audit.log").write("policy-load", "refused", reason="faulty-policy")
    first, second = audit_lines(tmp_path)
    assert first["action"] == "node-request"
    assert "peer" not in first
    assert second["reason"] == "faulty-policy"
    assert datetime.fromisoformat(first["time"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert first["time"].endswith("Z")


def test_audit_log_lines_stay_whole_when_written_from_many_threads(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")

    def write(n: int) -> None:
        for i in range(50):
            log.write("node-request", "allowed", subject=f"t{n}", detail="x" * 500, i=i)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = log.read()
    assert len(lines) == 300
    assert {(x["subject"], x["i"]) for x in lines} == {
        (f"t{n}", i) for n in range(6) for i in range(50)
    }


def test_an_empty_audit_log_reads_as_nothing(tmp_path: Path) -> None:
    assert AuditLog(tmp_path / "audit.log").read() == []


def test_the_audit_log_rotates_and_is_read_across_its_files(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log", max_bytes=2_000, keep=3)
    for i in range(200):
        log.write("node-request", "refused", reason="unsigned", i=i)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.log", "audit.log.1", "audit.log.2", "audit.log.3"]
    assert all((tmp_path / name).stat().st_size <= 2_000 for name in files)
    kept = [x["i"] for x in log.read()]
    assert kept == list(range(kept[0], 200))  # oldest first, newest last, nothing in between lost
    assert kept[0] > 0  # the oldest went with the fourth rotated file
    assert sum((tmp_path / n).stat().st_size for n in files) <= 4 * 2_000


def test_long_fields_are_cut_in_audit_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    log.write("request", "refused", path="/events?x=" + "A" * 15_000, peer="192.0.2.7")
    [line] = log.read()
    assert len(line["path"]) < 600
    assert line["path"].endswith("…(+14498 characters)")
    assert (tmp_path / "audit.log").stat().st_size < 1_000


# --- local users' tokens ----------------------------------------------------------------------


def test_a_new_token_checks_and_only_its_hash_is_kept(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.toml")
    secret = store.create("planning-team")
    assert secret.startswith("kt_")
    assert store.check(secret) == "planning-team"
    text = (tmp_path / "tokens.toml").read_text()
    assert secret not in text
    assert secret[3:] not in text
    assert secret[3:20] not in text
    assert stat.S_IMODE((tmp_path / "tokens.toml").stat().st_mode) == 0o600


def test_each_token_names_its_own_label(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.toml")
    a, b = store.create("planning-team"), store.create("erp-sync@plant1")
    assert a != b
    assert (store.check(a), store.check(b)) == ("planning-team", "erp-sync@plant1")
    assert store.labels() == ["planning-team", "erp-sync@plant1"]


def test_a_revoked_token_no_longer_checks_even_in_a_running_node(tmp_path: Path) -> None:
    running = TokenStore(tmp_path / "tokens.toml")  # the server's copy
    secret = running.create("planning-team")
    kept = running.create("erp-sync")
    assert running.check(secret) == "planning-team"
    cli = TokenStore(tmp_path / "tokens.toml")  # `keiretsu node token revoke` in another process
    assert cli.revoke("planning-team") is True
    assert cli.revoke("planning-team") is False
    assert running.check(secret) is None
    assert running.check(kept) == "erp-sync"
    assert running.labels() == ["erp-sync"]


@pytest.mark.parametrize("wrong", ["", "kt_", "kt_" + "A" * 43, "Bearer x", "x" * 10_000])
def test_wrong_tokens_do_not_check(tmp_path: Path, wrong: str) -> None:
    store = TokenStore(tmp_path / "tokens.toml")
    secret = store.create("planning-team")
    assert store.check(wrong) is None
    assert store.check(secret[:-1]) is None
    assert store.check(secret + "A") is None


def test_token_labels_are_unique_and_readable(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.toml")
    store.create("planning-team")
    with pytest.raises(ValueError, match="exists"):
        store.create("planning-team")
    for bad in ["", " lead", "a\nb", "x" * 65, 'quote"d']:
        with pytest.raises(ValueError, match="not a token label"):
            store.create(bad)


def test_no_token_file_means_no_tokens(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.toml")
    assert store.labels() == []
    assert store.check("kt_anything") is None
    assert store.revoke("nobody") is False
