"""The progress link as a QR code: SVG drawn by segno in the process (no CDN, no image files),
put inline in the receipt so it prints sharp at any size."""
from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(url: str, *, scale: int = 4, title: str | None = None) -> Markup:
    """An <svg> element of `url` (error correction M: still read from a creased receipt)."""
    code = segno.make(url, error="m", micro=False)
    # No width/height but a viewBox: the style sheet sizes it (portal.css, customer.css).
    svg = code.svg_inline(scale=scale, border=2, dark="#000", light="#fff", title=title,
                          svgclass="qr", lineclass=None, omitsize=True)
    return Markup(svg)
