"""Horizontal bar charts as inline SVG, for the static report and the console.

Each bar's label sits on its own line above the bar, so no two labels share a line whatever the scale; a label too
long for the line is cut with an ellipsis and kept whole in the row's <title> tooltip. The SVG has a viewBox and a
width of 100%, never a fixed pixel width: it scales to its container (below about 480 px its text gets too small to
read). Drawn by an autoescaped Jinja2 template (labels come from the data) and returned as Markup, safe to place in
another template.
"""

from dataclasses import dataclass

from jinja2 import Environment
from markupsafe import Markup

_WIDE = frozenset("MWmw@%…—")
_LABEL_GAP = 0.35  # between a label's line and its bar, in font sizes
_ROW_GAP = 0.6  # between one bar and the next row's label, in font sizes
_INSET = 2  # labels start a little right of the edge, where a glyph's overhang would be cut

_SVG = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """\
<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{{ title }}" \
viewBox="0 0 {{ width }} {{ height }}" width="100%" preserveAspectRatio="xMinYMin meet" \
font-family="system-ui,sans-serif" font-size="{{ font_size }}">
<title>{{ title }}</title>
{% for row in rows %}
<g class="bar"><title>{{ row.full_label }}: {{ row.value_text }}</title>
<text class="label" x="{{ inset }}" y="{{ row.label_y }}">{{ row.label }}</text>
<rect x="0" y="{{ row.bar_y }}" width="{{ row.length }}" height="{{ bar_height }}" fill="{{ colour }}"/>
<text class="value" x="{{ row.length + gap }}" y="{{ row.value_y }}">{{ row.value_text }}</text>
</g>
{% endfor %}
</svg>"""
)
_EMPTY = Environment(autoescape=True).from_string('<p class="chart-empty">{{ text }}</p>')


@dataclass(frozen=True, slots=True)
class _Row:
    full_label: str
    label: str
    value_text: str
    label_y: float
    bar_y: float
    value_y: float
    length: float


def bar_chart(
    rows: list[tuple[str, int | float]],
    *,
    title: str,
    colour: str = "#0b5394",
    width: int = 720,
    font_size: int = 13,
    empty: str = "Nothing to show.",
) -> Markup:
    """One horizontal bar per (label, value), in the order given, scaled to the largest value."""
    if not rows:
        return Markup(_EMPTY.render(text=empty))
    value_texts = [_number(value) for _, value in rows]
    gap = font_size // 2
    value_room = max(_ems(text) for text in value_texts) * font_size + gap
    longest_bar = width - value_room
    top = max(value for _, value in rows) or 1
    bar_height = font_size
    row_height = font_size * (1 + _LABEL_GAP + _ROW_GAP) + bar_height
    drawn = []
    for index, ((label, value), value_text) in enumerate(zip(rows, value_texts, strict=True)):
        top_y = index * row_height
        bar_y = top_y + font_size * (1 + _LABEL_GAP)
        drawn.append(
            _Row(
                full_label=label,
                label=_fit(label, (width - _INSET) / font_size),
                value_text=value_text,
                label_y=round(top_y + font_size, 2),
                bar_y=round(bar_y, 2),
                value_y=round(bar_y + bar_height * 0.85, 2),  # the digits' baseline, level with the bar's foot
                length=round(max(value, 0) / top * longest_bar, 2),
            )
        )
    height = round(len(rows) * row_height - font_size * _ROW_GAP + font_size * 0.3, 2)  # room for descenders
    return Markup(
        _SVG.render(
            rows=drawn,
            title=title,
            colour=colour,
            width=width,
            height=height,
            font_size=font_size,
            bar_height=bar_height,
            gap=gap,
            inset=_INSET,
        )
    )


def _number(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _ems(text: str) -> float:
    """The text's width in font sizes, generously estimated for sans-serif fonts: a label so measured fits its line."""
    return sum(1.0 if c in _WIDE else 0.78 if c.isupper() else 0.66 if c.isdigit() else 0.62 for c in text)


def _fit(label: str, room: float) -> str:
    """The label, or as much of its start as fits `room` font sizes with an ellipsis."""
    if _ems(label) <= room:
        return label
    end, used = 0, _ems("…")
    while used + _ems(label[end]) <= room:  # stops inside the label, which is wider than the room
        used += _ems(label[end])
        end += 1
    return label[:end].rstrip() + "…"
