"""Small bar and line charts drawn as SVG on the server, for the summary PDFs: WeasyPrint
runs no JavaScript, so the dashboard's ECharts cannot draw there. Text uses the PDFs' own
fonts (pdf_templates/fonts), so the charts' Chinese is embedded like the rest."""
from __future__ import annotations

import math

from markupsafe import Markup, escape

# portal.pdf.FONT_STACK, named here too so that building a chart does not import WeasyPrint.
FONT = "'Portal CJK', 'Portal CJK Full', sans-serif"
PALETTE = ("#2f6fb0", "#e08a1e", "#4a9a5b", "#b0413e", "#7a5aa6", "#5f8f9f")
LABEL_CHARS = 6  # a category name longer than this is cut with …


def axis(value: float, integer: bool = True) -> tuple[float, float]:
    """(top, step) of the value axis: a step of 1, 2 or 5 times a power of ten giving about
    four gridlines, whole numbers for counts; the top the first step at or above `value`."""
    rough = max(value, 1 if integer else 0.01) / 4
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    if integer:
        step = max(1, round(step))
    return step * max(1, math.ceil(value / step)), step


def _number(value: float, percent: bool) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))
    return text + ("%" if percent else "")


def _short(label: str) -> str:
    label = str(label)
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"


class _Canvas:
    """The plot area, axis and legend shared by both kinds of chart."""

    def __init__(self, title, categories, series, width, height, percent, top=None):
        self.title, self.categories, self.series = title, [str(c) for c in categories], series
        self.width, self.height, self.percent = width, height, percent
        self.left, self.right, self.top, self.bottom = 40, 10, 34, 30
        values = [v for _name, data in series for v in data if v is not None]
        integer = all(float(v).is_integer() for v in values)
        self.max, self.step = (top, top / 4) if top else axis(max(values, default=0), integer)
        self.parts: list[str] = []

    @property
    def plot_w(self):
        return self.width - self.left - self.right

    @property
    def plot_h(self):
        return self.height - self.top - self.bottom

    def y(self, value: float) -> float:
        return self.top + self.plot_h * (1 - min(value, self.max) / self.max)

    def text(self, x, y, content, size=9, anchor="middle", fill="#222", weight=400):
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                          f'fill="{fill}" font-weight="{weight}" font-family="{FONT}">{escape(content)}</text>')

    def frame(self, slot_w: float) -> None:
        self.text(self.left, 14, self.title, size=11, anchor="start", weight=700)
        for i in range(round(self.max / self.step) + 1):
            value = self.step * i
            y = self.y(value)
            self.parts.append(f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.width - self.right}" '
                              f'y2="{y:.1f}" stroke="{"#555" if i == 0 else "#ddd"}" stroke-width="0.6"/>')
            self.text(self.left - 4, y + 3, _number(value, self.percent), size=8, anchor="end", fill="#555")
        for i, label in enumerate(self.categories):
            self.text(self.left + slot_w * (i + 0.5), self.height - self.bottom + 12, _short(label), size=8)
        if len(self.series) > 1:
            x = self.width - self.right
            for i, (name, _data) in reversed(list(enumerate(self.series))):
                x -= 12 + 9 * len(str(name))
                self.parts.append(f'<rect x="{x:.1f}" y="20" width="8" height="8" fill="{PALETTE[i % len(PALETTE)]}"/>')
                self.text(x + 11, 27.5, name, size=8, anchor="start")

    def markup(self) -> Markup:
        return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
                      f'viewBox="0 0 {self.width} {self.height}" role="img" aria-label="{escape(self.title)}">'
                      + "".join(self.parts) + "</svg>")


def bars(title: str, categories, series, *, width=380, height=180, percent=False, top=None) -> Markup:
    """Grouped bars: `series` is [(name, [value per category])], None drawn as no bar."""
    canvas = _Canvas(title, categories, series, width, height, percent, top)
    slot = canvas.plot_w / max(len(canvas.categories), 1)
    canvas.frame(slot)
    bar_w = slot * 0.7 / max(len(series), 1)
    for s, (_name, data) in enumerate(series):
        for i, value in enumerate(data):
            if value is None:
                continue
            x = canvas.left + slot * i + slot * 0.15 + bar_w * s
            y = canvas.y(value)
            canvas.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                                f'height="{canvas.top + canvas.plot_h - y:.1f}" fill="{PALETTE[s % len(PALETTE)]}"/>')
            canvas.text(x + bar_w / 2, y - 2, _number(value, percent), size=7, fill="#333")
    return canvas.markup()


def lines(title: str, categories, series, *, width=380, height=180, percent=False, top=None) -> Markup:
    """One polyline per series with a dot per point; None leaves a gap."""
    canvas = _Canvas(title, categories, series, width, height, percent, top)
    slot = canvas.plot_w / max(len(canvas.categories), 1)
    canvas.frame(slot)
    for s, (_name, data) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        run: list[str] = []
        for i, value in enumerate([*data, None]):
            if value is None:
                if len(run) > 1:
                    canvas.parts.append(f'<polyline points="{" ".join(run)}" fill="none" '
                                        f'stroke="{colour}" stroke-width="1.6"/>')
                run = []
                continue
            x, y = canvas.left + slot * (i + 0.5), canvas.y(value)
            run.append(f"{x:.1f},{y:.1f}")
            canvas.parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{colour}"/>')
    return canvas.markup()
