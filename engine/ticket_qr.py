"""QR images of ticket codes, rendered once (off the claim and pay paths) and cached.

As `loadtests/bench_qr.py` measures it, the `qrcode` package spends most of its
time choosing the best of 8 masks and drawing module by module through PIL. A fixed mask
(any of the 8 is valid to every reader) and a raster built at one pixel a module, then scaled,
render a ticket code 3-5 times faster at the same size. Error correction M (15% of the
symbol may be lost: a scratched screen, a folded print) keeps a code at QR version 5.
"""

from __future__ import annotations

import io

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q

ERROR_CORRECTION = {
    "L": ERROR_CORRECT_L,
    "M": ERROR_CORRECT_M,
    "Q": ERROR_CORRECT_Q,
    "H": ERROR_CORRECT_H,
}
DEFAULT_LEVEL = "M"
DEFAULT_MASK = 0  # None: evaluate the 8 masks and keep the best (about 4 times slower)
DEFAULT_BOX = 6  # pixels a module: 37 modules + 2 * 4 quiet zone -> 270 x 270 pixels
QUIET_ZONE = 4  # modules of white around the symbol, as the standard asks


def qr_modules(
    code: str, level: str = DEFAULT_LEVEL, mask: int | None = DEFAULT_MASK
) -> list[list[bool]]:
    symbol = qrcode.QRCode(error_correction=ERROR_CORRECTION[level], border=0, mask_pattern=mask)
    symbol.add_data(code)
    symbol.make(fit=True)
    modules: list[list[bool]] = symbol.modules
    return modules


def render_qr(
    code: str,
    box_size: int = DEFAULT_BOX,
    level: str = DEFAULT_LEVEL,
    mask: int | None = DEFAULT_MASK,
) -> bytes:
    """A PNG (1 bit a pixel) of the code's QR symbol with its quiet zone."""
    modules = qr_modules(code, level, mask)
    count = len(modules)
    side = count + 2 * QUIET_ZONE
    # one byte a pixel, 0 = black: the symbol at one pixel a module inside its quiet zone
    blank = b"\xff" * side
    rows = [blank] * QUIET_ZONE
    margin = b"\xff" * QUIET_ZONE
    for row in modules:
        rows.append(margin + bytes(0 if dark else 255 for dark in row) + margin)
    rows.extend([blank] * QUIET_ZONE)
    image = Image.frombytes("L", (side, side), b"".join(rows)).convert(
        "1", dither=Image.Dither.NONE
    )
    if box_size > 1:
        image = image.resize((side * box_size, side * box_size), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def render_with_qrcode(
    code: str, box_size: int = DEFAULT_BOX, level: str = DEFAULT_LEVEL, mask: int | None = None
) -> bytes:
    """The `qrcode` package's own PIL drawing: the baseline the benchmark compares with."""
    symbol = qrcode.QRCode(
        error_correction=ERROR_CORRECTION[level],
        box_size=box_size,
        border=QUIET_ZONE,
        mask_pattern=mask,
    )
    symbol.add_data(code)
    symbol.make(fit=True)
    out = io.BytesIO()
    symbol.make_image().save(out, "PNG")
    return out.getvalue()
