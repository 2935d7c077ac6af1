"""Reading a PDF as a reader would: which faces are embedded, what the page shows (poppler)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

needs_poppler = pytest.mark.skipif(
    not shutil.which("pdffonts"), reason="poppler-utils (pdffonts, pdftotext, pdftoppm) not installed")


def run(*command) -> str:
    return subprocess.run([str(c) for c in command], check=True, capture_output=True, text=True).stdout


def fonts(pdf: Path) -> list[tuple[str, bool]]:
    """(family as WeasyPrint names it, embedded) per font of pdffonts, the subset tag cut off."""
    rows = run("pdffonts", pdf).splitlines()[2:]
    return [(row.split()[0].split("+")[-1], row.split()[-5] == "yes") for row in rows]


def text(pdf: Path) -> str:
    return run("pdftotext", "-layout", pdf, "-")


def pages(pdf: Path, dpi: int = 40) -> list[Image.Image]:
    """Every page rasterised, in RGB."""
    out = pdf.with_suffix("")
    run("pdftoppm", "-r", dpi, "-png", pdf, out)
    return [Image.open(p).convert("RGB") for p in sorted(out.parent.glob(out.name + "-*.png"))]


def ink(page: Image.Image) -> float:
    """Share of the page that is not paper white."""
    grey = page.convert("L")
    return sum(grey.histogram()[:200]) / (grey.width * grey.height)


def watermark_red(page: Image.Image) -> float:
    """Share of the page in the pale red of the 草稿 watermark (pdf_templates/common/common.css):
    the forms themselves print in black and grey only."""
    pixels = list(page.get_flattened_data())
    return sum(1 for r, g, b in pixels if r - g > 18 and r - b > 18 and r > 150) / len(pixels)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
