"""Hostile requests against every route the app exposes, and against the hot paths' parsers.

The routes are walked from the app itself, so a new endpoint is fuzzed without editing this
file. For each route and method hypothesis draws path parameters, query strings, a body
(random bytes, not UTF-8, deeply nested, wrong JSON types, huge numbers, any unicode, or the
schema's own field names with random values), a Content-Type and the token of each role (or
none, or a forged one). Every answer must be below 500, and every 4xx problem+json with a
`code`. Bounded for CI: a few examples per route, derandomized so a run is repeatable.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from api.bodies import data_shape, decode_body, is_json_media_type
from api.hot_paths import UNSERVED
from api.orders import OrderIn, claimed_items
from api.tickets import ValidateIn, _scan_of
from engine.errors import InvalidCursor
from engine.pagination import AfterMoment, AfterOrder, encode_cursor, read_cursor
from engine.principal import Principal
from engine.settings import get_settings
from engine.tokens import issue_access_token
from tests.integration.test_authorization_matrix import World, world

__all__ = ["world"]

# CI runs a fixed 20 per route; `FUZZ_EXAMPLES=500 pytest tests/property/...` hunts longer,
# with fresh random examples each run
EXAMPLES_PER_ROUTE = int(os.environ.get("FUZZ_EXAMPLES", "20"))
FUZZ = settings(
    max_examples=EXAMPLES_PER_ROUTE,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
PARSERS = settings(FUZZ, max_examples=200)
# Litestar's OpenAPI pages answer an unknown page with an HTML 404: still never a 5xx
HTML_PAGES = ("/schema",)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# query names every list or filter understands, besides each handler's own parameters
QUERY_NAMES = ["limit", "cursor", "since", "from", "to", "q", "status", "x"]
HOSTILE_TEXT = [
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "2030-01-01",
    "-1",
    "0",
    "1e400",
    "99999999999999999999999",
    "\x00",
    "\ud800",
    "%ff",
    "WzEuNSwiYSJd",
    "WyIyMDMwLTAxLTAxIiwgImFiYyJd",
    encode_cursor("2030-01-01T00:00:00+00:00", 2**64),
]

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(HOSTILE_TEXT),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def bodies(field_names: list[str]) -> st.SearchStrategy[bytes | None]:
    """Hostile bodies, some shaped like the schema so they get past its first checks."""
    names = st.sampled_from(field_names or ["x"])
    shaped = st.dictionaries(names, json_values, max_size=len(field_names) + 1)
    return st.one_of(
        st.none(),
        st.binary(max_size=120),
        shaped.map(lambda body: json.dumps(body).encode()),
        shaped.map(lambda body: json.dumps(body, ensure_ascii=False).encode("utf-8", "replace")),
        json_values.map(lambda body: json.dumps(body).encode()),
        st.tuples(names, st.integers(100, 5000)).map(
            lambda nd: b'{"%s": %s}' % (nd[0].encode(), deep(nd[1]))
        ),
        names.map(lambda name: b'{"%s": "\xff\xfe"}' % name.encode()),
        names.map(lambda name: b'{"%s": 1%s}' % (name.encode(), b"0" * 400)),
        st.just(b"[" * 3000),
    )


CONTENT_TYPES = st.one_of(
    st.just("application/json"),
    st.sampled_from(
        [
            None,
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/xml",
            "application/merge-patch+json",
            "application/json; charset=latin-1",
            "application/json; charset=utf-8",
            "\x7f/\x00",
        ]
    ),
)


# the headers the handlers read besides Authorization and Content-Type
EXTRA_HEADERS = st.dictionaries(
    st.sampled_from(["idempotency-key", "x-admission-token", "accept", "x-request-id"]),
    st.one_of(
        st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=300),
        st.sampled_from(HOSTILE_TEXT[:7]),
    ),
    max_size=2,
)


def endpoints(app: Litestar) -> Iterator[tuple[str, str, Any]]:
    """(method, path template, handler) of every route the app serves."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(getattr(handler, "http_methods", ())):
                if method in METHODS:
                    yield method, route.path, handler


def escaped(text: str) -> str:
    """Percent-escaped UTF-8, lone surrogates included (bytes that are not UTF-8)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def path_strategy(template: str, ids: dict[str, Any]) -> st.SearchStrategy[str]:
    parts: list[st.SearchStrategy[str]] = []
    for literal, name, kind in re.findall(r"([^{]*)(?:\{(\w+):(\w+)\})?", template):
        parts.append(st.just(literal))
        if not name:
            continue
        known = [str(v) for v in ids.values() if isinstance(v, int) == (kind == "int")]
        parts.append(
            st.one_of(
                st.sampled_from(known or ["1"]),
                st.integers(-(2**70), 2**70).map(str),
                st.text(max_size=30).map(escaped),
            )
        )
    return st.tuples(*parts).map("".join)


def query_strategy(handler: Any) -> st.SearchStrategy[dict[str, str]]:
    own = [name for name in handler.parsed_fn_signature.parameters if name not in ("data",)]
    values = st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE_TEXT))
    return st.dictionaries(st.sampled_from([*own, *QUERY_NAMES]), values, max_size=3)


def tokens(world: World) -> dict[str, dict[str, str]]:
    settings_ = get_settings()
    admin = issue_access_token(
        Principal(user_id=world.owner.id, role="admin"), settings_.jwt_secret, 3600
    )
    return {
        "anon": {},
        "customer": world.customer.headers,
        "owner": world.owner.headers,
        "other_partner": world.other_partner.headers,
        "staff": world.staff.headers,
        "admin": {"Authorization": f"Bearer {admin}"},
        "forged": {"Authorization": "Bearer e30.e30.x"},
        "lowercase": {"Authorization": world.customer.headers["Authorization"].lower()},
    }


# the auth dependency a handler asks for -> the actors who pass it
ROLES_OF_DEPENDENCY = {
    "customer": ["customer", "lowercase"],
    "partner": ["owner"],
    "gate": ["owner", "staff"],
    "user": ["customer", "owner", "staff"],
}


def fitting_roles(handler: Any) -> list[str]:
    """The actors a handler lets through, so most examples get past authentication."""
    parameters = handler.parsed_fn_signature.parameters
    fitting = [
        role for dep, roles in ROLES_OF_DEPENDENCY.items() if dep in parameters for role in roles
    ]
    return fitting or ["anon", "customer", "owner"]


def check_answer(response: Any, context: Any, html_page: bool) -> None:
    assert response.status_code < 500, (context, response.status_code, response.text[:300])
    if response.status_code >= 400 and not html_page:
        content_type = response.headers.get("content-type", "")
        assert content_type.startswith("application/problem+json"), (context, response.text)
        assert response.json().get("code"), (context, response.text)


@pytest.fixture(scope="module")
def fuzz_client(world: World) -> Iterator[TestClient[Any]]:
    from api.app import create_app

    with TestClient(app=create_app(), raise_server_exceptions=False) as client:
        yield client


def test_no_route_answers_5xx_to_hostile_requests(
    fuzz_client: TestClient[Any], world: World
) -> None:
    app = fuzz_client.app
    assert isinstance(app, Litestar)
    auth = tokens(world)
    ids = world.ids
    routes = list(endpoints(app))
    assert len(routes) > 40  # the walk found the app's routes
    for method, template, handler in routes:
        fuzz_route(fuzz_client, auth, ids, method, template, handler)


def fuzz_route(
    client: TestClient[Any],
    auth: dict[str, dict[str, str]],
    ids: dict[str, Any],
    method: str,
    template: str,
    handler: Any,
) -> None:
    shape = data_shape(handler)
    names = [f.encode_name for f in msgspec.structs.fields(shape)] if _is_struct(shape) else []

    @FUZZ
    @given(
        path=path_strategy(template, ids),
        query=query_strategy(handler),
        body=bodies(names),
        content_type=CONTENT_TYPES,
        who=st.one_of(st.sampled_from(sorted(auth)), st.sampled_from(fitting_roles(handler))),
        extra=EXTRA_HEADERS,
    )
    def hostile_request(
        path: str,
        query: dict[str, str],
        body: bytes | None,
        content_type: str | None,
        who: str,
        extra: dict[str, str],
    ) -> None:
        headers: dict[str, str | bytes] = {k: v.encode("latin-1") for k, v in extra.items()}
        headers.update(auth[who])
        if content_type is not None and body is not None:
            headers["content-type"] = content_type
        url = path + "?" + "&".join(f"{escaped(k)}={escaped(v)}" for k, v in query.items())
        response = client.request(method, url, headers=headers, content=body)
        context = (method, path, query, body and body[:80], content_type, who)
        check_answer(response, context, is_page(template, handler))

    hostile_request()


def is_page(template: str, handler: Any) -> bool:
    """The docs, and the browser pages (web/), which answer a refusal with an HTML page
    unless the script asked for JSON; the API's routes answer problem+json."""
    return template.startswith(HTML_PAGES) or getattr(handler.fn, "__module__", "").startswith(
        "web."
    )


def _is_struct(shape: Any) -> bool:
    return isinstance(shape, type) and issubclass(shape, msgspec.Struct)


# --- the hot paths' own parsers: they either parse or raise what makes them pass a request on


@PARSERS
@given(st.one_of(st.binary(max_size=300), bodies(["items", "code", "gate"])))
@example(b'{"code": "1", "gate": ' + deep(2000) + b"}")
@example(b'{"items": "\xff\xfe"}')
@example(b'{"items": [{"ticket_type_id": 1, "quantity": "2"}]}')
def test_hot_path_parsers_parse_or_pass_on(body: bytes | None) -> None:
    for parse in (claimed_items, _scan_of):
        with contextlib.suppress(*UNSERVED):
            parse(body or b"")


@PARSERS
@given(st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode)))
def test_content_type_check_never_fails(content_type: bytes) -> None:
    assert is_json_media_type(content_type) in (True, False)


@PARSERS
@given(
    st.one_of(
        st.text(max_size=80),
        json_values.map(lambda key: encode_cursor(*key) if isinstance(key, list) else str(key)),
    )
)
def test_cursors_decode_or_are_invalid(cursor: str) -> None:
    for shape in (AfterMoment, AfterOrder):
        with contextlib.suppress(InvalidCursor):
            read_cursor(cursor, shape)


def test_the_parsers_agree_with_the_documented_schemas() -> None:
    """The hot paths decode into the same Structs as their handlers, strictly."""
    assert decode_body(b'{"code": "x"}', ValidateIn) == ValidateIn(code="x")
    with pytest.raises(UNSERVED):
        decode_body(b'{"items": [{"ticket_type_id": 1, "quantity": 2.0}]}', OrderIn)
