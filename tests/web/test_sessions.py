"""Browser sessions and CSRF on the pages: sign up, in and out through the forms, the cookie's
attributes, `next` kept to local paths, sessions that end for real, and every state-changing
form refused without its token."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from engine import keys
from engine.store.resources import Resources
from tests import services as test_services
from tests.conftest import make_actor, unique_email
from tests.web.conftest import PASSWORD, csrf_of, sign_in

SESSION = "bx_session"
CSRF = "bx_csrf"


def cookie_header(response: Any, name: str) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return str(value)
    raise AssertionError(f"no {name} cookie set: {response.headers}")


async def test_sign_up_signs_in_and_goes_home(browser_client: AsyncTestClient[Any]) -> None:
    form = await browser_client.get("/sign-up?role=partner")
    assert form.status_code == 200
    assert 'name="company_name"' in form.text
    email = unique_email("web-partner")
    response = await browser_client.post(
        "/sign-up",
        data={
            "csrf_token": csrf_of(form.text),
            "role": "partner",
            "name": "Pat Partner",
            "company_name": "Pat Shows",
            "email": email,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/panel/"
    page = await browser_client.get("/sign-out")
    assert "Pat Partner" in page.text and email in page.text


async def test_sign_up_names_the_bad_field(browser_client: AsyncTestClient[Any]) -> None:
    form = await browser_client.get("/sign-up")
    response = await browser_client.post(
        "/sign-up",
        data={
            "csrf_token": csrf_of(form.text),
            "name": "Short Pass",
            "email": unique_email("web-short"),
            "password": "short",
        },
    )
    assert response.status_code == 422
    assert 'id="e-password"' in response.text
    assert SESSION not in browser_client.cookies


async def test_session_cookie_is_http_only_lax_and_expires(
    browser_client: AsyncTestClient[Any], resources: Resources
) -> None:
    actor = await make_actor(browser_client, "customer")
    response = await sign_in(browser_client, actor.user["email"], "/account/orders?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/account/orders?x=1"
    cookie = cookie_header(response, SESSION).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "max-age=28800" in cookie
    assert not any(part.strip() == "secure" for part in cookie.split(";"))  # plain HTTP here
    session_id = browser_client.cookies[SESSION]
    ttl = await resources.redis.ttl(keys.web_session(session_id))
    assert 28000 < ttl <= 28800
    assert "httponly" in cookie_header(response, CSRF).lower()


async def test_next_must_be_a_local_path(browser_client: AsyncTestClient[Any]) -> None:
    actor = await make_actor(browser_client, "partner")
    for outside in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "panel"):
        browser_client.cookies.clear()
        response = await sign_in(browser_client, actor.user["email"], outside)
        assert response.status_code == 303
        assert response.headers["location"] == "/panel/", outside


async def test_wrong_password_is_refused_on_the_page(browser_client: AsyncTestClient[Any]) -> None:
    actor = await make_actor(browser_client, "customer")
    page = await browser_client.get("/sign-in")
    response = await browser_client.post(
        "/sign-in",
        data={"csrf_token": csrf_of(page.text), "email": actor.user["email"], "password": "nope"},
    )
    assert response.status_code == 401
    assert 'role="alert"' in response.text
    assert SESSION not in browser_client.cookies


async def test_sign_out_ends_the_session_everywhere(
    browser_client: AsyncTestClient[Any], resources: Resources
) -> None:
    actor = await make_actor(browser_client, "partner")
    await sign_in(browser_client, actor.user["email"])
    session_id = browser_client.cookies[SESSION]
    assert await resources.redis.exists(keys.web_session(session_id))
    page = await browser_client.get("/sign-out")
    response = await browser_client.post("/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    assert "max-age=0" in cookie_header(response, SESSION).lower()
    assert not await resources.redis.exists(keys.web_session(session_id))
    # a copy of the old cookie no longer signs anyone in
    browser_client.cookies.clear()
    browser_client.cookies[SESSION] = session_id
    again = await browser_client.get("/sign-out")
    assert "You are not signed in" in again.text


async def test_state_changes_without_the_token_are_refused(
    browser_client: AsyncTestClient[Any], resources: Resources
) -> None:
    actor = await make_actor(browser_client, "partner")
    await sign_in(browser_client, actor.user["email"])
    session_id = browser_client.cookies[SESSION]
    page = await browser_client.get("/sign-out")
    token = csrf_of(page.text)

    missing = await browser_client.post("/sign-out", data={})
    assert missing.status_code == 403
    assert "Security token refused" in missing.text
    forged = await browser_client.post("/sign-out", data={"csrf_token": token[:-2] + "xx"})
    assert forged.status_code == 403
    as_json = await browser_client.post(
        "/sign-out", headers={"Accept": "application/json", "X-CSRF-Token": "nope"}
    )
    assert as_json.status_code == 403
    assert as_json.json()["code"] == "csrf_failed"
    assert as_json.headers["content-type"].startswith("application/problem+json")
    # none of them signed the user out
    assert await resources.redis.exists(keys.web_session(session_id))

    # a token made for another session is refused even with a matching cookie
    other = await make_actor(browser_client, "partner")
    browser_client.cookies.clear()
    await sign_in(browser_client, other.user["email"])
    browser_client.cookies[CSRF] = token
    stolen = await browser_client.post("/sign-out", data={"csrf_token": token})
    assert stolen.status_code == 403

    # the header form of the token works for scripts
    browser_client.cookies.clear()
    await sign_in(browser_client, other.user["email"])
    fresh = csrf_of((await browser_client.get("/sign-out")).text)
    by_header = await browser_client.post("/sign-out", headers={"X-CSRF-Token": fresh})
    assert by_header.status_code == 303


async def test_sign_in_needs_the_token_too(browser_client: AsyncTestClient[Any]) -> None:
    """Login CSRF: another site cannot sign a visitor into the attacker's account."""
    actor = await make_actor(browser_client, "customer")
    response = await browser_client.post(
        "/sign-in", data={"email": actor.user["email"], "password": PASSWORD}
    )
    assert response.status_code == 403
    assert SESSION not in browser_client.cookies


async def test_pages_are_secured_and_not_cached(browser_client: AsyncTestClient[Any]) -> None:
    page = await browser_client.get("/sign-in")
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    css = await browser_client.get("/static/css/site.css")
    assert css.status_code == 200 and "--focus" in css.text
    # the pages' scripts, the waiting room's among them
    assert (await browser_client.get("/static/js/waiting_room.js")).status_code == 200


async def test_cookies_are_secure_over_tls(services: test_services.TestServices) -> None:
    from api.app import create_app

    async with AsyncTestClient(app=create_app(), base_url="https://testserver.local") as tls:
        tls.follow_redirects = False
        actor = await make_actor(tls, "customer")
        response = await sign_in(tls, actor.user["email"])
        for name in (SESSION, CSRF):
            parts = [part.strip().lower() for part in cookie_header(response, name).split(";")]
            assert "secure" in parts, name
