"""The obeya's login without JavaScript: the login page's plain HTML form posts the token, the
answer sets the session cookie and redirects; a wrong token, a partner's signed token, an
oversized form and a redirect off the obeya are refused — and a partner still gets no
session. A real node process and Debian's Chromium with JavaScript off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _obeya import CHROMIUM, Served, prepare, serve

from keiretsu.node.auth import sign_request

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    root = tmp_path_factory.mktemp("login")
    store, token, partner = prepare(root)
    served = serve(store, token, partner, root / "serve.log")
    yield served
    served.stop()


@pytest.fixture(scope="module")
def no_js(node: Served) -> Iterator[Any]:
    """A browser context with JavaScript switched off."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(java_script_enabled=False)
        yield context
        context.close()
        browser.close()


def test_the_login_form_works_without_javascript(no_js: Any, node: Served) -> None:
    page = no_js.new_page()
    page.set_default_timeout(60_000)
    page.goto(node.url + "/obeya/")
    assert "/obeya/login" in page.url  # not logged in: sent to the form
    page.fill("#token", node.token)
    page.click("button[type=submit]")  # the browser posts the form itself
    # the obeya's network page (asking again every 2 s, by a meta refresh, while computed)
    page.wait_for_selector("#network-map", state="attached", timeout=240_000)
    assert page.url == node.url + "/obeya/"
    assert "umeda-dc" in page.inner_text("#companies")
    cookie = next(c for c in no_js.cookies() if c["name"] == "obeya_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    page.close()


def test_a_wrong_token_in_the_form_says_so_and_opens_no_session(no_js: Any, node: Served) -> None:
    context = no_js.browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(node.url + "/obeya/login?next=/obeya/waste")
    page.fill("#token", "kt_not-a-token")
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    assert nav.value.status == 401
    assert "not one of this node's local users' tokens" in page.inner_text("#login-error")
    assert page.input_value("input[name=next]") == "/obeya/waste"  # kept for the next try
    assert not [c for c in context.cookies() if c["name"] == "obeya_session"]
    context.close()


def test_the_form_refuses_partners_large_bodies_and_foreign_redirects(node: Served) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with httpx.Client(base_url=node.url, timeout=30, follow_redirects=False) as c:
        # a partner's signed token put in the form: no session (a partner sees no page)
        signed = sign_request(node.partner, audience="umeda-dc", method="POST", path="/obeya/login")
        r = c.post("/obeya/login", content=f"token={signed}&next=/obeya/", headers=form)
        assert r.status_code == 403 and "set-cookie" not in r.headers
        # a body larger than a login form: refused unread
        r = c.post("/obeya/login", content="token=" + "x" * 5000, headers=form)
        assert r.status_code == 413 and "set-cookie" not in r.headers
        # next= off the obeya: the login lands on the obeya, never on another site
        r = c.post(
            "/obeya/login",
            content=f"token={node.token}&next=https://evil.example/obeya/",
            headers=form,
        )
        assert r.status_code == 303 and r.headers["location"] == "/obeya/"
        assert "obeya_session=" in r.headers["set-cookie"]
        # the script's login (token in the header) still answers 204
        r = c.post("/obeya/login", headers={"Authorization": f"Bearer {node.token}"})
        assert r.status_code == 204 and "obeya_session=" in r.headers["set-cookie"]
