"""QR rendering options and ticket-code costs, on one core: `python -m loadtests.bench_qr`.

Prints images per second for each option (renderer x error correction x mask x box size) on
real ticket codes (about 180 digits: QR numeric mode), then what minting, verifying and
refusing a forged code cost. With `--database-url`, also the round trip of a one-row lookup
by code in PostgreSQL, to compare with refusing a forged code without one.

Measured options:
- renderer `qrcode`: the package's own PIL drawing, module by module (the baseline);
  `raster`: engine/ticket_qr.py, one pixel a module then scaled (what the project uses);
- error correction L/M/Q/H: higher levels survive more damage and need a bigger symbol;
- mask `auto` (the package scores all 8 masks and keeps the best) or fixed `0`;
- box size: pixels a module.
segno 1.6.6, timed by hand, renders within 10-20% of `raster` at the same options,
so it is not a dependency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from itertools import product

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine.ticket_codes import mint, parse, signature_ok, signed_by, tag_key, tagged_by, ticket_ref
from engine.ticket_qr import DEFAULT_BOX, DEFAULT_LEVEL, DEFAULT_MASK, qr_modules, render_qr
from engine.ticket_qr import render_with_qrcode as render_baseline

KEY = Ed25519PrivateKey.generate()


def sample_codes(count: int) -> list[str]:
    return [mint(KEY, 1, 123_456, ticket_ref(f"123456-{n:020x}", n % 7)) for n in range(count)]


def rate(work: Callable[[str], object], codes: list[str], seconds: float) -> float:
    """Calls a second on one core: the best of three rounds of at least `seconds` / 3."""
    rounds = []
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            work(codes[done % len(codes)])
            done += 1
        rounds.append(done / (time.perf_counter() - start))
    return max(rounds)


def _renderer(name: str, level: str, mask: int | None, box: int) -> Callable[[str], bytes]:
    render = render_qr if name == "raster" else render_baseline
    return lambda code: render(code, box_size=box, level=level, mask=mask)


def qr_table(codes: list[str], seconds: float, quick: bool) -> None:
    levels = ("M",) if quick else ("L", "M", "Q", "H")
    boxes = (6,) if quick else (4, 6, 10)
    print(
        f"{'renderer':8} {'ec':2} {'mask':4} {'box':>3} {'ver':>3} {'pixels':>7} "
        f"{'bytes':>6} {'images/s':>9}"
    )
    for renderer, level, mask, box in product(("qrcode", "raster"), levels, (None, 0), boxes):
        work = _renderer(renderer, level, mask, box)
        png = work(codes[0])
        modules = len(qr_modules(codes[0], level, mask))
        version = (modules - 17) // 4
        side = (modules + 8) * box
        per_s = rate(work, codes, seconds)
        chosen = (renderer, level, mask, box) == (
            "raster",
            DEFAULT_LEVEL,
            DEFAULT_MASK,
            DEFAULT_BOX,
        )
        print(
            f"{renderer:8} {level:2} {mask if mask is not None else 'auto':>4} {box:>3} "
            f"{version:>3} {side:>4}px² {len(png):>6} {per_s:>9.0f}{'  <- used' if chosen else ''}"
        )


def code_costs(codes: list[str], seconds: float) -> float:
    public = KEY.public_key()
    forged = [c[:60] + ("1" if c[60] != "1" else "2") + c[61:] for c in codes]
    well_formed = sum(parse(code) is not None for code in forged)

    tag = tag_key(KEY)

    def refuse_at_server(code: str) -> bool:  # what the API does: check the code's tag
        parsed = parse(code)
        return parsed is not None and tagged_by(parsed, tag)

    def sign_again(code: str) -> bool:  # what the API does with a version-1 code (no tag)
        parsed = parse(code)
        return parsed is not None and signed_by(parsed, KEY)

    def refuse_offline(code: str) -> bool:  # what a scanner does with the public key
        parsed = parse(code)
        return parsed is not None and signature_ok(parsed, public)

    mint_s = rate(lambda n: mint(KEY, 1, 123_456, ticket_ref(n, 0), tag), codes, seconds)
    server_s = rate(refuse_at_server, forged, seconds)
    again_s = rate(sign_again, forged, seconds)
    offline_s = rate(refuse_offline, forged, seconds)
    print(f"\ncode length: {statistics.mean(len(c) for c in codes):.0f} digits")
    for name, per_s in (
        ("mint (sign)", mint_s),
        ("refuse a forged code, server", server_s),
        ("  the same by signing again (v1)", again_s),
        ("refuse a forged code, offline", offline_s),
    ):
        print(f"{name + ':':32} {per_s:>9.0f}/s  {1e6 / per_s:6.1f} us")
    print(f"({well_formed}/{len(forged)} forged codes were well formed: each needed a check)")
    return server_s


async def lookup_cost(database_url: str, codes: list[str], seconds: float) -> float:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            await conn.fetchrow(
                "SELECT id, status, used_at FROM tickets WHERE code = $1", codes[done % len(codes)]
            )
            done += 1
        per_s = done / (time.perf_counter() - start)
    finally:
        await conn.close()
    print(
        f"{'PostgreSQL lookup by code:':32} {per_s:>9.0f}/s  {1e6 / per_s:6.1f} us (one connection)"
    )
    return per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measured option")
    parser.add_argument("--quick", action="store_true", help="error correction M, box 6 only")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL"), help="for the lookup figure"
    )
    args = parser.parse_args()
    codes = sample_codes(200)
    print(f"QR images per second on one core (pid {os.getpid()}):\n")
    qr_table(codes, args.seconds, args.quick)
    refuse_s = code_costs(codes, args.seconds)
    if args.database_url:
        lookup_s = asyncio.run(lookup_cost(args.database_url, codes, args.seconds))
        print(f"refusing a forged code at the server costs {lookup_s / refuse_s:.2f} lookups")


if __name__ == "__main__":
    main()
