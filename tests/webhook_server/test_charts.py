"""Bar charts as inline SVG: they scale to the page, their labels never overlap, long labels are cut with the whole
label in a tooltip, and labels from the data are escaped. In the markup, and in headless Chromium; the browser helpers
serve the report's tests too."""

import xml.etree.ElementTree as ElementTree
from itertools import pairwise
from pathlib import Path

import pytest
from jinja2 import Environment
from markupsafe import Markup

from consentry.webhook_server.charts import bar_chart
from tests import browser as browsers

SVG = "{http://www.w3.org/2000/svg}"
ROWS = [("Consent to electronic prospecting missing", 120), ("Legal calling days and hours", 60), ("Objected", 0)]


def parse(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup))


def texts(svg: ElementTree.Element) -> list[ElementTree.Element]:
    return list(svg.iter(f"{SVG}text"))


def test_the_chart_scales_to_its_container_and_has_no_fixed_pixel_size():
    svg = parse(bar_chart(ROWS, title="Why contacts are blocked"))
    assert svg.get("width") == "100%"
    assert svg.get("height") is None
    x, y, width, height = (float(number) for number in svg.get("viewBox").split())
    assert (x, y, width) == (0, 0, 720)
    assert height > 0
    assert "px" not in ElementTree.tostring(svg, encoding="unicode")
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == "Why contacts are blocked"


def test_every_label_has_its_own_line_at_least_a_font_size_apart():
    rows = [(f"reason {number}", number) for number in range(30)]
    svg = parse(bar_chart(rows, title="many", font_size=14))
    ys = sorted(float(text.get("y")) for text in texts(svg))
    assert len(ys) == 60  # a label and a value per bar
    assert all(later - earlier >= 14 for earlier, later in pairwise(ys))
    height = float(svg.get("viewBox").split()[3])
    assert ys[-1] < height  # the last line is inside the picture


def test_bars_are_proportional_to_their_values_and_leave_room_for_the_figure():
    svg = parse(bar_chart(ROWS, title="t"))
    lengths = [float(rect.get("width")) for rect in svg.iter(f"{SVG}rect")]
    assert lengths[0] == 2 * lengths[1]
    assert lengths[2] == 0
    values = [text for text in texts(svg) if text.get("class") == "value"]
    assert [text.text for text in values] == ["120", "60", "0"]
    widest = float(values[0].get("x")) + len(values[0].text) * 13 * 0.62
    assert widest <= 720


def test_a_long_label_is_cut_and_kept_whole_in_its_tooltip():
    long = "A reason whose title goes on and on, much longer than any line of the chart could ever hold, really"
    svg = parse(bar_chart([(long, 3)], title="t", width=400))
    [group] = svg.iter(f"{SVG}g")
    label = next(text for text in texts(group) if text.get("class") == "label")
    assert label.text.endswith("…")
    assert long.startswith(label.text.removesuffix("…"))
    assert len(label.text) * 13 * 0.62 <= 400
    assert group.find(f"{SVG}title").text == f"{long}: 3"


def test_a_short_label_is_kept_as_it_is():
    svg = parse(bar_chart([("email", 1_234)], title="t"))
    assert [text.text for text in texts(svg)] == ["email", "1,234"]


def test_labels_from_the_data_are_escaped_and_the_markup_is_not_escaped_twice():
    chart = bar_chart([("<script>alert(1)</script>", 1)], title='"><b>')
    assert isinstance(chart, Markup)
    assert "<script>" not in chart
    assert "<b>" not in chart
    assert parse(chart).find(f"{SVG}g/{SVG}text").text == "<script>alert(1)</script>"
    page = Environment(autoescape=True).from_string("<div>{{ chart }}</div>").render(chart=chart)
    assert page == f"<div>{chart}</div>"


def test_fractions_are_shown_with_two_decimals():
    svg = parse(bar_chart([("p50", 0.25), ("p99", 1.5)], title="latency"))
    assert [text.text for text in texts(svg) if text.get("class") == "value"] == ["0.25", "1.50"]


def test_nothing_to_show_is_said_in_words():
    assert (
        bar_chart([], title="t", empty="No contact is blocked.") == '<p class="chart-empty">No contact is blocked.</p>'
    )


# Every pair of text elements whose boxes meet, every text that runs out of its picture, and the labels' font size.
MEASURE = """
const texts = [...document.querySelectorAll("svg text")];
const boxes = texts.map((text) => text.getBoundingClientRect());
const overlaps = [];
boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b, j) => {
  if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
    overlaps.push([texts[i].textContent, texts[i + 1 + j].textContent]);
  }
}));
const outside = texts.filter((text, i) => {
  const frame = text.ownerSVGElement.getBoundingClientRect();
  const box = boxes[i];
  return box.left < frame.left - 0.5 || box.right > frame.right + 0.5
    || box.top < frame.top - 0.5 || box.bottom > frame.bottom + 0.5;
}).map((text) => text.textContent);
const sizes = texts.map((text) => parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a);
return {
  texts: texts.length, overlaps, outside,
  smallest: Math.min(...sizes), largest: Math.max(...sizes),
  width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth,
};
"""


def browser():
    """Headless Chromium for measuring charts: no scrollbars to take width from the page."""
    return browsers.chromium("--hide-scrollbars")


def measure_labels(driver, url: str, width: int) -> dict:
    """The page at `url`, `width` CSS pixels wide, and what MEASURE finds in its charts."""
    driver.set_window_size(width, 900)
    driver.get(url)
    inner = driver.execute_script("return window.innerWidth")
    driver.set_window_size(2 * width - inner, 900)  # the page itself is `width` wide, whatever the window adds
    return driver.execute_script(MEASURE)


def full_page_screenshot(driver, path: Path) -> Path:
    """The whole page, not only the window: the window grown to the page's height first."""
    extra = driver.get_window_size()["height"] - driver.execute_script("return window.innerHeight")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(driver.get_window_size()["width"], height + extra)
    assert driver.save_screenshot(str(path))
    return path


@pytest.fixture
def chromium():
    with browser() as driver:
        yield driver


HARD_LABELS = [
    ("W" * 150, 3),  # the widest letter, on and on
    ("FR_SOFT_OPTIN_NO_OBJECTION_AT_COLLECTION_" * 3, 1_234_567),
    ("Une étiquette accentuée, Élodie, Ŵ, très longue, qui continue encore et encore et encore sans jamais finir", 2),
    ("<script>alert(1)</script>", 0),
    ("short", 40),
]


@pytest.mark.integration
@pytest.mark.parametrize("width", [480, 700, 1400])
def test_in_a_browser_hard_labels_stay_inside_their_chart_and_apart(chromium, tmp_path, width):
    page = Environment(autoescape=True).from_string(
        '<!doctype html><html lang="en"><meta charset="utf-8"><body style="max-width:60rem;margin:auto">'
        "{{ chart }}{{ chart }}</body></html>"
    )
    path = tmp_path / "chart.html"
    path.write_text(page.render(chart=bar_chart(HARD_LABELS, title="hard labels")), encoding="utf-8")
    measured = measure_labels(chromium, path.as_uri(), width)
    assert measured["texts"] == 2 * 2 * len(HARD_LABELS)
    assert measured["overlaps"] == []
    assert measured["outside"] == []
    assert measured["scroll"] <= width
    full_page_screenshot(chromium, tmp_path / f"chart-{width}.png")
