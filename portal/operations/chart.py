"""The history chart's geometry, drawn as SVG by ``templates/_chart.html``.

Four panels share one time axis (held and queued events, calls in flight, deliveries per
second, failed deliveries), each with its own scale, and shaded bands mark maintenance and
the restriction periods. Only coordinates and words are computed here: colours and type
come from the stylesheet (class names), so the chart needs no inline style or script and
works under the portal's Content-Security-Policy. We measured pygal (its SVG carries a
``<script>`` and a ``<style>`` even with ``js=[]``, which ``style-src 'self'`` and
``script-src 'self'`` block) and leather (CSP-clean, but a fixed pixel size, fixed colours,
and no shaded periods, title or description), so the portal draws its own.
"""

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from portal.core import timefmt
from portal.operations.history import Point

WIDTH, LEFT, RIGHT = 720, 64, 12
PANEL, GAP, TOP, AXIS = 64, 30, 22, 26
SERIES = (
    ("queued", "Held and queued events", "{:.0f}"),
    ("in_flight", "Calls in flight", "{:.0f}"),
    ("per_second", "Deliveries per second", "{:.1f}"),
    ("failures", "Failed deliveries", "{:.0f}"),
)
TICKS = 6


@dataclass
class Band:
    x: float
    width: float
    kind: str  # "maintenance" | "restricted"
    label: str


@dataclass
class Panel:
    name: str
    title: str
    top: float
    height: float
    peak: str  # the top of the scale, as a label
    values: str = ""  # the plotted figures, as the table shows them
    line: str = ""  # polyline points
    bars: list[tuple[float, float, float]] = field(default_factory=list)  # x, y, height


@dataclass
class Chart:
    title: str
    desc: str
    width: int
    height: int
    left: float
    right: float
    panels: list[Panel]
    bands: list[Band]
    ticks: list[tuple[float, str, str]]  # x, label, text-anchor
    points: list[Point]


def build(
    title: str,
    points: list[Point],
    start: datetime,
    end: datetime,
    maintenance: list[tuple[datetime, datetime]],
    restricted: list[tuple[datetime, datetime]],
    zone: tzinfo = timefmt.UTC_ZONE,
) -> Chart:
    """Return the chart of ``points`` between ``start`` and ``end`` with the periods shaded,
    its times in words and on the axis in ``zone``."""
    span = max((end - start).total_seconds(), 1.0)
    right = WIDTH - RIGHT
    plot = right - LEFT

    def x(at: datetime) -> float:
        offset = min(max((at - start).total_seconds(), 0.0), span)
        return round(LEFT + plot * offset / span, 1)

    panels = []
    for index, (name, label, shape) in enumerate(SERIES):
        top = TOP + index * (PANEL + GAP)
        values = [getattr(point, name) for point in points]
        peak = _nice(max(values, default=0))
        panel = Panel(name, label, top, PANEL, shape.format(peak))
        panel.values = " ".join(shape.format(value) for value in values)

        def y(value: float, top: float = top, peak: float = peak) -> float:
            return round(top + PANEL - PANEL * value / peak, 1)

        if name == "failures":
            panel.bars = [
                (x(p.at), y(p.failures), round(top + PANEL - y(p.failures), 1))
                for p in points
                if p.failures
            ]
        else:
            panel.line = " ".join(f"{x(p.at)},{y(getattr(p, name))}" for p in points)
        panels.append(panel)
    height = TOP + len(SERIES) * (PANEL + GAP) - GAP + AXIS
    bands = [_band(x(a), x(b), "maintenance") for a, b in maintenance]
    bands += [_band(x(a), x(b), "restricted") for a, b in restricted]
    moments = [start + (end - start) * n / TICKS for n in range(TICKS + 1)]
    shape = "%H:%M:%S" if span < TICKS * 60 else "%H:%M"
    anchors = ["start"] + ["middle"] * (TICKS - 1) + ["end"]
    ticks = [
        (x(at), f"{timefmt.local(at, zone):{shape}}", anchor)
        for at, anchor in zip(moments, anchors, strict=True)
    ]
    desc = describe(points, start, end, maintenance, restricted, zone)
    return Chart(title, desc, WIDTH, height, LEFT, right, panels, bands, ticks, points)


def describe(
    points: list[Point],
    start: datetime,
    end: datetime,
    maintenance: list[tuple[datetime, datetime]],
    restricted: list[tuple[datetime, datetime]],
    zone: tzinfo = timefmt.UTC_ZONE,
) -> str:
    """Return the chart in words (its SVG description), its times in ``zone``."""
    text = f"From {timefmt.text(start, zone=zone)} to {timefmt.text(end, zone=zone)}. "
    if not points:
        return text + "No samples were recorded in this time."
    delivered = round(sum(p.per_second * p.seconds for p in points))
    text += (
        f"{len(points)} points. Held and queued events peaked at {max(p.queued for p in points)}, "
        f"at most {max(p.in_flight for p in points)} calls were in flight, "
        f"{delivered} deliveries finished and {sum(p.failures for p in points)} failed."
    )
    for label, periods in (("Maintenance", maintenance), ("Restricted", restricted)):
        for a, b in periods:
            a, b = timefmt.local(a, zone), timefmt.local(b, zone)
            text += f" {label} from {a:%H:%M:%S} to {b:%H:%M:%S} (shaded)."
    return text


def _band(left: float, right: float, kind: str) -> Band:
    label = "maintenance" if kind == "maintenance" else "processor restricted"
    return Band(left, round(max(right - left, 1.0), 1), kind, label)


def _nice(value: float) -> float:
    """Return a round top of scale at or above ``value`` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= value:
        power *= 10
    while power > value:
        power /= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power
