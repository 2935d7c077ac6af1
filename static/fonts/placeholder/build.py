"""Build cjk-placeholder.ttf: one glyph, a thin bar 1 em wide, for every CJK code point.

    .venv/bin/python static/fonts/placeholder/build.py

Where the device has no Chinese font, the text waits for the slices of Noto Sans SC
(static/js/webfont.js). Meanwhile this face, under 1 KB, draws each Chinese
character as a short bar on the baseline, exactly as wide as Noto's glyph and with Noto's vertical metrics, so
when the real glyphs arrive nothing on the page moves (no layout shift, no second wrap).
Devices with a CJK font of their own never reach this face (it is last in --font).
"""
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib.tables._c_m_a_p import CmapSubtable

HERE = Path(__file__).resolve().parent
# CJK radicals … CJK unified ideographs, compatibility ideographs and forms, fullwidth
# forms (not the halfwidth ones after U+FF60), and the supplementary ideograph planes.
RANGES = [(0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFF60),
          (0x20000, 0x2FA1F)]
# Noto Sans SC's own metrics (units per em 1000; hhea ascender 1160, descender -288).
UPM, ASCENT, DESCENT = 1000, 1160, -288


def _dash():
    """A short thin bar on the baseline, where the character will be: the page reads as a
    sketch of its lines while the real glyphs load (an empty glyph would paint nothing, and
    the browser would count the page as blank until then)."""
    pen = TTGlyphPen(None)
    pen.moveTo((120, 0))
    pen.lineTo((120, 90))
    pen.lineTo((880, 90))
    pen.lineTo((880, 0))
    pen.closePath()
    return pen.glyph()


def build() -> Path:
    fb = FontBuilder(UPM, isTTF=True)
    fb.setupGlyphOrder([".notdef", "space", "dash"])
    fb.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "space": TTGlyphPen(None).glyph(), "dash": _dash()})
    fb.setupHorizontalMetrics({".notdef": (UPM, 0), "space": (UPM, 0), "dash": (UPM, 120)})
    fb.setupHorizontalHeader(ascent=ASCENT, descent=DESCENT)
    fb.setupNameTable({"familyName": "Portal CJK Placeholder", "styleName": "Regular"})
    # Format 13 maps whole ranges to one glyph: a few groups instead of 90,000 entries.
    sub = CmapSubtable.newSubtable(13)
    sub.platformID, sub.platEncID, sub.language = 3, 10, 0
    sub.cmap = {cp: "dash" for lo, hi in RANGES for cp in range(lo, hi + 1)}
    sub.cmap[0x3000] = "space"  # the ideographic space stays blank
    # Format 4 for the BMP too: some renderers read only (3, 1).
    bmp = CmapSubtable.newSubtable(4)
    bmp.platformID, bmp.platEncID, bmp.language = 3, 1, 0
    bmp.cmap = {0x3000: "space"}  # the rest comes from format 13
    fb.setupCharacterMap({0x3000: "space"})
    fb.font["cmap"].tables = [bmp, sub]
    fb.setupOS2(sTypoAscender=880, sTypoDescender=-120, sTypoLineGap=0,
                usWinAscent=ASCENT, usWinDescent=-DESCENT, fsSelection=0x40)
    fb.setupPost()
    fb.setupMaxp()
    # Plain TrueType: Chromium's font sanitiser refused fontTools' WOFF2 of this tiny font
    # ("network error"), and at under 1 KB there is nothing to compress.
    out = HERE / "cjk-placeholder.ttf"
    fb.save(out)
    return out


if __name__ == "__main__":
    path = build()
    print(path, path.stat().st_size, "bytes")
