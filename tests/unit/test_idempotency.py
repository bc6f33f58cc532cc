"""An Idempotency-Key belongs to one request: method, path and the raw body bytes."""

from __future__ import annotations

from engine.idempotency import request_fingerprint

BODY = b'{"payment_token": "tok_visa"}'


def test_the_same_request_has_the_same_fingerprint() -> None:
    assert request_fingerprint("POST", "/orders/1-a/pay", BODY) == request_fingerprint(
        "post", "/orders/1-a/pay", BODY
    )


def test_method_path_and_body_each_change_the_fingerprint() -> None:
    first = request_fingerprint("POST", "/orders/1-a/pay", BODY)
    others = {
        request_fingerprint("PUT", "/orders/1-a/pay", BODY),
        request_fingerprint("POST", "/orders/1-b/pay", BODY),
        request_fingerprint("POST", "/orders", BODY),
        request_fingerprint("POST", "/orders/1-a/pay", b'{"payment_token": "tok_decline"}'),
        request_fingerprint("POST", "/orders/1-a/pay", BODY + b" "),
        # the path and the body cannot trade bytes
        request_fingerprint("POST", "/orders/1-a/pay\n", BODY[1:]),
    }
    assert first not in others
    assert len(others) == 6
    assert request_fingerprint("POST", "/a", b"\nx") != request_fingerprint("POST", "/a\n", b"x")
