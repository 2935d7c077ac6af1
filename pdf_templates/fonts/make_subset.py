"""Cut the full Noto Sans SC TTFs down to GB2312 plus the punctuation and symbols our forms use.

WeasyPrint subsets every embedded font at each render; starting from ~7,500 glyphs instead of
~30,000 makes that several times faster. The full TTFs stay beside the subsets as the CSS
fallback ("Portal CJK Full") for rare characters in names and addresses.

Run with the project venv:  .venv/bin/python pdf_templates/fonts/make_subset.py
"""

from pathlib import Path

from fontTools import subset

HERE = Path(__file__).resolve().parent

FONTS = {
    "NotoSansSC-Regular.ttf": "NotoSansSC-Regular-gb2312.ttf",
    "NotoSansSC-Bold.ttf": "NotoSansSC-Bold-gb2312.ttf",
}

RANGES = [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1: ¥ ° · é in foreign customer names
    (0x2000, 0x206F),  # general punctuation: — … ‰ ※ ‘’ “”
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、。《》【】〔〕
    (0xFF00, 0xFFEF),  # fullwidth forms: ，：（）￥
    (0x2460, 0x2473),  # ① … ⑳
]

SYMBOLS = (
    "×÷±℃№￥¥°‰√∞≈≠≤≥∑∏→←↑↓↔"  # quantities, specs, arrows in free text
    "★☆○●◎□■△▲◇◆✓✔✗✘"  # check marks and bullets people type into remarks
    "㎡㎥㎏㎎㎜㎝㎞㏄㎖㎜ℓ"  # units on product specifications
    "™®©"
)


def gb2312_codepoints():
    """Every BMP character that the gb2312 codec can encode (includes ASCII)."""
    points = set()
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        try:
            chr(cp).encode("gb2312")
        except UnicodeEncodeError:
            continue
        points.add(cp)
    return points


def wanted_codepoints():
    points = gb2312_codepoints()
    for first, last in RANGES:
        points.update(range(first, last + 1))
    points.update(ord(ch) for ch in SYMBOLS)
    return points


def subset_options():
    options = subset.Options()
    # CJK text needs no shaping, and WeasyPrint re-subsets at render time: dropping the
    # layout tables and hinting keeps the file small and that re-subset fast.
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "STAT"]
    options.hinting = False
    options.notdef_outline = True  # a visible box beats an invisible gap if a glyph is missing
    options.name_IDs = ["*"]  # keep copyright and licence records the OFL asks us to carry
    options.name_languages = ["*"]
    return options


def make_subset(source: Path, target: Path, codepoints) -> None:
    options = subset_options()
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codepoints)
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def main():
    codepoints = wanted_codepoints()
    for source_name, target_name in FONTS.items():
        source, target = HERE / source_name, HERE / target_name
        make_subset(source, target, codepoints)
        print(f"{target.name}: {target.stat().st_size:,} bytes "
              f"(from {source.stat().st_size:,})")


if __name__ == "__main__":
    main()
