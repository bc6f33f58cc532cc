"""The sell-out race's buyers: HTTP/1.1 keep-alive clients on uvloop, in their own process.

`python -m loadtests.soldout_load --port 8000 --pool 42 --tokens FILE --clients 32`
Each client (one connection, one customer: FILE holds a bearer token a line) loops: claim one
unit of ticket type `--pool` (`POST /orders`), then pay that order (`POST /orders/{id}/pay`),
until a claim is refused `sold_out`. The connections are open before the clock starts; the
race lasts until the last client saw the pool sold out. Prints a JSON summary: the race's
seconds, the orders paid, and the claims' and payments' latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

import uvloop

from loadtests.http_load import encode

GIVE_UP_SECONDS = 120.0  # a race that has not sold out by then is reported as it stands


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return int(head[9:12]), await reader.readexactly(length) if length else b""


class Race:
    def __init__(self, host: str, port: int, pool: int) -> None:
        self.host, self.port, self.pool = host, port, pool
        self.claim_ms: list[float] = []
        self.pay_ms: list[float] = []
        self.claims: Counter[int] = Counter()
        self.pays: Counter[int] = Counter()
        self.finished = 0.0

    async def buyer(
        self, token: str, connected: asyncio.Event, start: asyncio.Event, deadline: float
    ) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        address = f"{self.host}:{self.port}"
        auth = {"Authorization": f"Bearer {token}"}
        claim = encode(
            {
                "method": "POST",
                "path": "/orders",
                "headers": auth,
                "body": {"items": [{"ticket_type_id": self.pool, "quantity": 1}]},
            },
            address,
        )
        connected.set()
        await start.wait()
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                status, body = await exchange(reader, writer, claim)
                self.claim_ms.append((time.perf_counter() - started) * 1000)
                self.claims[status] += 1
                if status == 409 and b'"sold_out"' in body:
                    break
                if status != 201:
                    continue
                order_id = json.loads(body)["id"]
                pay = encode(
                    {
                        "method": "POST",
                        "path": f"/orders/{order_id}/pay",
                        "headers": auth,
                        "body": {"payment_token": "tok_race"},
                    },
                    address,
                )
                started = time.perf_counter()
                status, _ = await exchange(reader, writer, pay)
                self.pay_ms.append((time.perf_counter() - started) * 1000)
                self.pays[status] += 1
        finally:
            self.finished = max(self.finished, time.perf_counter())
            writer.close()

    async def run(self, tokens: list[str]) -> dict[str, Any]:
        start = asyncio.Event()
        events = [asyncio.Event() for _ in tokens]
        deadline = time.perf_counter() + GIVE_UP_SECONDS
        tasks = [
            asyncio.ensure_future(self.buyer(token, event, start, deadline))
            for token, event in zip(tokens, events, strict=True)
        ]
        await asyncio.gather(*(event.wait() for event in events))
        started = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        seconds = self.finished - started
        return {
            "seconds": round(seconds, 4),
            "paid": self.pays.get(202, 0),
            "orders_per_s": round(self.pays.get(202, 0) / seconds, 1),
            "claims": {str(k): v for k, v in sorted(self.claims.items())},
            "pays": {str(k): v for k, v in sorted(self.pays.items())},
            "claim_p50_ms": percentile(self.claim_ms, 0.50),
            "claim_p95_ms": percentile(self.claim_ms, 0.95),
            "pay_p50_ms": percentile(self.pay_ms, 0.50),
            "pay_p95_ms": percentile(self.pay_ms, 0.95),
        }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(int(len(ordered) * p), len(ordered) - 1)], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pool", type=int, required=True, help="the ticket type on sale")
    parser.add_argument("--tokens", required=True, help="a file of bearer tokens, one a line")
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    with open(args.tokens) as source:
        tokens = [line.strip() for line in source if line.strip()][: args.clients]
    if len(tokens) < args.clients:
        raise SystemExit(f"{args.clients} clients need as many tokens; the file has {len(tokens)}")
    uvloop.install()
    print(json.dumps(asyncio.run(Race(args.host, args.port, args.pool).run(tokens))))


if __name__ == "__main__":
    main()
