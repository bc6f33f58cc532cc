"""A small HTTP/1.1 keep-alive load generator on uvloop, run in its own process.

`python -m loadtests.http_load --port 8000 --requests FILE --connections 64 --seconds 10`
FILE holds one request per line as JSON `{"method", "path", "headers", "body"}`; each
connection takes the next unused line, so every request can be distinct (seats, buyers).
`--repeat` cycles the file instead of stopping when it runs out. Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import uvloop


def encode(request: dict[str, Any], host: str) -> bytes:
    body = request.get("body")
    payload = json.dumps(body).encode() if body is not None else b""
    headers = {"Host": host, "Connection": "keep-alive", **request.get("headers", {})}
    if body is not None:
        headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(payload))
    head = f"{request.get('method', 'GET')} {request['path']} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    return head.encode() + b"\r\n" + payload


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def connection(
    host: str,
    port: int,
    requests: Iterator[bytes],
    deadline: float,
    statuses: Counter[int],
    latencies: list[float],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for raw in requests:
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            writer.write(raw)
            statuses[await read_response(reader)] += 1
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def run(
    host: str, port: int, lines: list[bytes], connections: int, seconds: float, repeat: bool
) -> dict[str, Any]:
    shared = itertools.cycle(lines) if repeat else iter(lines)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(connection(host, port, shared, deadline, statuses, latencies) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return round(latencies[min(int(len(latencies) * p), len(latencies) - 1)] * 1000, 2)

    total = sum(statuses.values())
    return {
        "requests": total,
        "seconds": round(elapsed, 3),
        "rps": round(total / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", action="store_true")
    args = parser.parse_args()
    host = f"{args.host}:{args.port}"
    with open(args.requests) as source:
        lines = [encode(json.loads(line), host) for line in source if line.strip()]
    uvloop.install()
    print(
        json.dumps(
            asyncio.run(
                run(args.host, args.port, lines, args.connections, args.seconds, args.repeat)
            )
        )
    )


if __name__ == "__main__":
    main()
