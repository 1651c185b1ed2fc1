"""Charts for the analysis report and the dashboard, as inline-safe SVG strings.

Every function is pure (data in, SVG text out), draws with matplotlib (a bare
``Figure`` rendered to SVG: no pyplot state, no GUI backend) at a fixed size, and returns an ``<svg>`` element ready to paste into
an HTML page:

* an accessible name and description (``<title>``/``<desc>``, ``role="img"``);
* no scripts, no ``<style>`` element and no ``style`` attributes (matplotlib's
  styles are turned into presentation attributes), so the site's CSP
  (``style-src 'self'``) does not strip the colours from an inline chart;
* element ids prefixed per chart, so several charts can share one page;
* text from the data (theme names, pain-point labels) is never read as
  mathtext and is XML-escaped.

The output is deterministic: the same data gives the same bytes.

Each chart comes in two sizes (``narrow=``): ``WIDE`` (460 px) for a desktop
page, and ``NARROW`` (340 px, bigger type) for a phone. Scaled down to a
phone's width the wide chart's 12 px text would shrink to 8 px; the narrow one's
text stays at least 11 px on a 330 px wide column. A page offers both (a
``<picture>`` source, or ``both_sizes`` and the classes ``chart-wide`` and
``chart-narrow`` for inline charts) and the browser shows the one its width needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from analysis.labels import SENTIMENTS, THEMES
from survey.kinds import BANDS, KINDS
from survey.metrics import MetricResult

__all__ = ["score_distribution_svg", "metric_trend_svg", "campaign_course_svg", "sentiment_by_theme_svg", "pain_points_svg",
           "both_sizes", "BAND_COLOURS", "THEME_COLOURS", "WIDE", "NARROW"]

# The site's palette (survey/static/rapport.css).
BAND_COLOURS = {"negative": "#d64545", "neutral": "#c99a1c", "positive": "#1f9d55"}
THEME_COLOURS = {"service": "#2457d6", "care": "#8e44ad", "other": "#7f8c8d"}
INK, MUTED, GRID, ACCENT = "#1b1f24", "#5b6470", "#dfe3e8", "#2457d6"

DPI = 72             # matplotlib writes SVG in points; at 72 dpi they are kept 1:1 as px
PAIN_POINTS_SHOWN = 12

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", _SVG_NS)
ET.register_namespace("xlink", _XLINK_NS)



@dataclass(frozen=True)
class Size:
    """A chart's width and type sizes, in px (the SVG's units); heights scale with ``tall``."""

    name: str
    width: float
    text: float    # ticks, axis labels, pain-point names
    small: float   # legends, counts on or beside bars
    title: float
    tall: float    # heights are multiplied by this
    date_ticks: int
    label_chars: int  # a pain point's name is shortened to this

    @property
    def width_in(self) -> float:
        return self.width / DPI


# Drawn for the box it is shown in two a row (the Results page above 64rem): 447 px at a 1,025 px screen,
# 550 px from 1,231 px on (the page's 76rem cap), so its smallest text is shown 11.7–14.3 px. Where one
# chart fills a row, dashboard.css and the report hold it to 34rem (544 px, 14.2 px text), about as big.
WIDE = Size("wide", 460, text=12.5, small=12, title=14, tall=1.1, date_ticks=6, label_chars=34)
# Shown about 330 px wide on a 390 px phone (x0.97), so no text is below 12 px here.
NARROW = Size("narrow", 340, text=13, small=12.5, title=14.5, tall=1.15, date_ticks=5, label_chars=40)
READABLE_PX = 11  # no chart text is shown smaller, at any width the Results page is checked at

# CSS properties matplotlib writes that SVG also accepts as attributes.
_PRESENTATION = frozenset({
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linejoin",
    "stroke-linecap", "stroke-dasharray", "stroke-dashoffset", "stroke-miterlimit", "opacity",
    "font-size", "font-family", "font-weight", "font-style", "text-anchor", "dominant-baseline",
    "clip-path", "clip-rule", "letter-spacing",
})
_URL_REF = re.compile(r"url\(#([^)]+)\)")
# matplotlib's pyplot state is global; one chart at a time per process.
_LOCK = threading.Lock()
_RC = {
    "svg.fonttype": "none",          # real <text>: smaller, searchable, read by screen readers
    "svg.hashsalt": "rapport",       # stable clip-path ids, so output is deterministic
    "text.parse_math": False,        # "$5 refund" is text, not mathtext
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.edgecolor": GRID,
    "axes.labelcolor": MUTED,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "figure.dpi": DPI,
}


def score_distribution_svg(kind: str, scores: Sequence[int | None], narrow: bool = False,
                           filtered: bool = False) -> str:
    """Bars of how many answers gave each score, coloured by band (None scores are skipped).

    ``filtered``: the answers are a filter's, so an empty chart says none match (not that none came yet)."""
    size = NARROW if narrow else WIDE
    spec = KINDS[kind]
    counts = {value: 0 for value in spec.scale}
    for score in scores:
        if score is None:
            continue
        if score not in counts:
            raise ValueError(f"score {score!r} is outside the {kind.upper()} scale {spec.low}–{spec.high}")
        counts[score] += 1
    total = sum(counts.values())
    title = f"{kind.upper()} score distribution"
    desc = (f"{total} answers. " + "; ".join(f"score {v}: {c}" for v, c in counts.items())) if total \
        else f"{_empty_text('No scored answers', filtered)}."

    def draw(fig, ax):
        values = list(counts)
        bars = ax.bar(values, [counts[v] for v in values], width=0.75,
                      color=[BAND_COLOURS[spec.band(v)] for v in values])
        ax.set_xticks(values)
        ax.set_xlim(spec.low - 0.6, spec.high + 0.6)
        ax.set_ylabel("answers")
        ax.yaxis.get_major_locator().set_params(integer=True)
        _grid(ax, "y")
        if total:
            ax.bar_label(bars, labels=[f"{counts[v]:,}" if counts[v] else "" for v in values],
                         padding=2, fontsize=size.small, color=INK)
            ax.margins(y=0.12)
        else:
            ax.set_ylim(0, 1)
            ax.set_yticks([])
            _empty_note(ax, _empty_text("No scored answers", filtered), size)
        handles = [_patch(BAND_COLOURS[b]) for b in BANDS]
        names = spec.band_names
        ax.legend(handles, [names[b] for b in BANDS], loc="lower right", ncols=3,
                  bbox_to_anchor=(1, 1.0), fontsize=size.small, handlelength=1, borderaxespad=0,
                  columnspacing=1.0 if narrow else 2.0)

    return _render(draw, size, 3.3, title, desc, key=("dist", kind, tuple(counts.items())))


def metric_trend_svg(kind: str, periods: Sequence[tuple[dt.date, MetricResult]], narrow: bool = False,
                     filtered: bool = False) -> str:
    """The metric per period as a line, with its confidence interval as a shaded band.

    Periods whose score cannot be estimated (no answers) are left out of the line.
    ``filtered`` as in :func:`score_distribution_svg`.
    """
    size = NARROW if narrow else WIDE
    spec = KINDS[kind]  # KeyError for an unknown kind, like the other charts
    points = [(day, result) for day, result in sorted(periods, key=lambda p: p[0]) if result.score is not None]
    name = spec.metric_name
    title = f"{name} over time"
    if points:
        desc = f"{len(points)} periods. " + "; ".join(
            f"{day.isoformat()}: {result.score:.1f}" + (
                f" (95% CI {result.ci_low:.1f} to {result.ci_high:.1f}, n={result.n})"
                if result.ci_low is not None and result.ci_high is not None else f" (n={result.n})")
            for day, result in points)
    else:
        desc = f"{_empty_text('No answers', filtered)}."
    low, high = spec.metric_range

    def draw(fig, ax):
        import matplotlib.dates as mdates

        _grid(ax, "y")
        if not points:
            ax.set_ylim(low, high)
            ax.set_xticks([])
            _empty_note(ax, _empty_text("No answers", filtered), size)
        else:
            days = [day for day, _ in points]
            scores = [result.score for _, result in points]
            lows = [result.ci_low if result.ci_low is not None else result.score for _, result in points]
            highs = [result.ci_high if result.ci_high is not None else result.score for _, result in points]
            ax.fill_between(days, lows, highs, color=ACCENT, alpha=0.15, linewidth=0, label="95% interval")
            # Whiskers too: a band needs two periods to be seen.
            ax.vlines(days, lows, highs, color=ACCENT, alpha=0.35, linewidth=1.5)
            ax.plot(days, scores, color=ACCENT, linewidth=2, marker="o", markersize=4, label=name)
            span = max(highs) - min(lows)
            pad = max(span * 0.15, (high - low) * 0.05)
            ax.set_ylim(max(low, min(lows) - pad), min(high, max(highs) + pad))
            if len(days) == 1:
                ax.set_xlim(days[0] - dt.timedelta(days=7), days[0] + dt.timedelta(days=7))
            locator = mdates.AutoDateLocator(minticks=3, maxticks=size.date_ticks)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            ax.legend(loc="lower right", ncols=2, bbox_to_anchor=(1, 1.0), fontsize=size.small, borderaxespad=0)
        ax.set_ylabel(name)

    key = ("trend", kind, tuple((d.isoformat(), r.score, r.ci_low, r.ci_high, r.n) for d, r in points))
    return _render(draw, size, 3.3, title, desc, key=key)


def campaign_course_svg(days: Sequence[tuple[dt.date, int, int]], narrow: bool = False) -> str:
    """A campaign's course: e-mails sent and answers received per day, side by side."""
    size = NARROW if narrow else WIDE
    title = "Sent and answered per day"
    desc = ("; ".join(f"{day.isoformat()}: {sent} sent, {answered} answered" for day, sent, answered in days)
            if days else "Nothing sent yet.")

    def draw(fig, ax):
        import matplotlib.dates as mdates

        _grid(ax, "y")
        if not days:
            ax.set_xticks([])
            ax.set_yticks([])
            _empty_note(ax, "Nothing sent yet", size)
            return
        when = [dt.datetime.combine(day, dt.time()) for day, _, _ in days]  # the pair centred on its day's tick
        offset = dt.timedelta(hours=5)
        ax.bar([d - offset for d in when], [s for _, s, _ in days], width=0.4, color=GRID, edgecolor=MUTED,
               linewidth=0.5, label="sent")
        ax.bar([d + offset for d in when], [a for _, _, a in days], width=0.4, color=ACCENT, label="answered")
        ax.yaxis.get_major_locator().set_params(integer=True)
        locator = mdates.AutoDateLocator(minticks=2, maxticks=min(7, size.date_ticks))
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        if len(when) == 1:
            ax.set_xlim(when[0] - dt.timedelta(days=2), when[0] + dt.timedelta(days=2))
        ax.set_ylim(0, max(max(s, a) for _, s, a in days) * 1.15 or 1)
        ax.legend(loc="lower right", ncols=2, bbox_to_anchor=(1, 1.0), fontsize=size.small, borderaxespad=0)
        ax.set_ylabel("per day")

    key = ("course", tuple((d.isoformat(), s, a) for d, s, a in days))
    return _render(draw, size, 3.0, title, desc, key=key)


def sentiment_by_theme_svg(counts: dict[str, dict[str, int]], narrow: bool = False, filtered: bool = False) -> str:
    """Stacked horizontal bars: for each theme, its comments split by sentiment.

    ``filtered`` as in :func:`score_distribution_svg`."""
    size = NARROW if narrow else WIDE
    themes = [t for t in THEMES if t in counts] + sorted(t for t in counts if t not in THEMES)
    title = "Sentiment by theme"
    rows = [(theme, [int(counts[theme].get(s, 0)) for s in SENTIMENTS]) for theme in themes]
    rows = [(theme, values) for theme, values in rows if sum(values)]
    desc = "; ".join(
        f"{theme}: " + ", ".join(f"{n} {s}" for s, n in zip(SENTIMENTS, values)) for theme, values in rows
    ) or f"{_empty_text('No labelled comments', filtered)}."

    def draw(fig, ax):
        _grid(ax, "x")
        if not rows:
            ax.set_xticks([])
            ax.set_yticks([])
            _empty_note(ax, _empty_text("No labelled comments", filtered), size)
        else:
            names = [theme for theme, _ in rows][::-1]
            left = [0] * len(names)
            for k, sentiment in enumerate(SENTIMENTS):
                widths = [values[k] for _, values in rows][::-1]
                bars = ax.barh(names, widths, left=left, color=BAND_COLOURS[sentiment], height=0.6, label=sentiment)
                # Counts inside segments wide enough to hold them.
                biggest = max(sum(v) for _, v in rows)
                ax.bar_label(bars, labels=[f"{w:,}" if w >= biggest * 0.06 else "" for w in widths],
                             label_type="center", color="#ffffff", fontsize=size.small)
                left = [a + b for a, b in zip(left, widths)]
            ax.tick_params(axis="y", length=0, labelsize=size.text, labelcolor=INK)
            ax.legend(loc="lower right", ncols=3, bbox_to_anchor=(1, 1.0), fontsize=size.small, handlelength=1,
                      borderaxespad=0, columnspacing=1.0 if narrow else 2.0)
        ax.set_xlabel("comments")

    height = 1.5 + 0.55 * max(len(rows), 1)
    return _render(draw, size, height, title, desc, key=("themes", tuple(rows)))


def pain_points_svg(points: Sequence[dict], narrow: bool = False) -> str:
    """Horizontal bars of each pain point's impact, biggest first, coloured by theme.

    Each point is a dict with ``label`` and ``impact``, and optionally ``theme``
    and ``count`` (shown after the bar, as "N answers", or "N <count_of>" when given:
    under a filter the count is of the answers matching it, the impact still the
    whole analysis's). The first ``PAIN_POINTS_SHOWN`` are drawn.
    """
    size = NARROW if narrow else WIDE
    shown = list(points)[:PAIN_POINTS_SHOWN]
    title = "Pain points by impact"
    desc = "; ".join(
        f"{p['label']}: impact {float(p['impact']):.2f}"
        + (f", {p['count']} {p.get('count_of', 'answers')}" if p.get("count") is not None else "")
        + (f", theme {p['theme']}" if p.get("theme") else "")
        for p in shown
    ) or "No pain points found."
    if len(points) > len(shown):
        desc += f" ({len(points) - len(shown)} more not shown.)"

    def draw(fig, ax):
        _grid(ax, "x")
        if not shown:
            ax.set_xticks([])
            ax.set_yticks([])
            _empty_note(ax, "No pain points found", size)
        else:
            labels = [_shorten(str(p["label"]), size.label_chars) for p in shown][::-1]
            impacts = [float(p["impact"]) for p in shown][::-1]
            colours = [THEME_COLOURS.get(p.get("theme"), MUTED) for p in shown][::-1]
            positions = list(range(len(shown)))
            if narrow:
                # No room for names beside the bars: each name on a line of its own above its bar.
                bars = ax.barh(positions, impacts, color=colours, height=0.42)
                ax.set_yticks([])
                ax.set_ylim(-0.4, len(shown) - 0.1)
                import matplotlib.transforms as mtransforms

                at_left = mtransforms.blended_transform_factory(ax.transAxes, ax.transData)
                for position, label in zip(positions, labels):
                    ax.text(0.0, position + 0.25, label, transform=at_left, ha="left", va="bottom",
                            fontsize=size.text, color=INK)
            else:
                bars = ax.barh(positions, impacts, color=colours, height=0.65)
                ax.set_yticks(positions, labels)
                ax.tick_params(axis="y", length=0, labelsize=size.text, labelcolor=INK)
            counts = [(p.get("count"), p.get("count_of", "answers")) for p in shown][::-1]
            if any(c is not None for c, _ in counts):
                ax.bar_label(bars, labels=["" if c is None else f"{c:,} {of}" for c, of in counts],
                             padding=3, fontsize=size.small, color=MUTED)
            ax.margins(x=0.3 if narrow else 0.16)
            if min(impacts) >= 0:
                ax.set_xlim(left=0)
            ax.axvline(0, color=MUTED, linewidth=0.8)
            themes = [t for t in THEMES if any(p.get("theme") == t for p in shown)]
            if themes:
                ax.legend([_patch(THEME_COLOURS[t]) for t in themes], themes, loc="lower right",
                          ncols=len(themes), bbox_to_anchor=(1, 1.0), fontsize=size.small, handlelength=1,
                          borderaxespad=0, columnspacing=1.0 if narrow else 2.0)
        ax.set_xlabel("impact (mean score lost, % of the scale)" if not narrow else "impact (% of the scale lost)")

    # Narrow: a row holds the name's line and the bar under it.
    height = 1.6 + (0.62 if narrow else 0.38) * max(len(shown), 1)
    key = ("pain", tuple((str(p["label"]), float(p["impact"]), p.get("theme"), p.get("count")) for p in shown))
    return _render(draw, size, height, title, desc, key=key)


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _grid(ax, axis: str) -> None:
    ax.grid(axis=axis, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _empty_note(ax, text: str, size: Size) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=MUTED, fontsize=size.text + 1)


def _patch(colour: str):
    from matplotlib.patches import Patch

    return Patch(color=colour)


def both_sizes(chart, *args) -> str:
    """A chart in both sizes, for a page that inlines it: its CSS shows ``svg.chart-wide`` or
    ``svg.chart-narrow`` by the screen's width (the hidden one is not read by screen readers either)."""
    return chart(*args) + chart(*args, narrow=True)


def _empty_text(what: str, filtered: bool) -> str:
    """An empty chart's note: under a filter nothing matched, which is not the same as nothing yet."""
    return f"{what} match these filters" if filtered else f"{what} yet"


def _render(draw, size: Size, height_in: float, title: str, desc: str, key) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    buffer = io.StringIO()
    with _LOCK, matplotlib.rc_context({**_RC, "font.size": size.text}):
        # A bare Figure (not pyplot) is never registered globally, so nothing leaks between charts.
        fig = Figure(figsize=(size.width_in, height_in * size.tall), dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        draw(fig, ax)
        fig.suptitle(title, x=0.01, ha="left", fontsize=size.title, fontweight="bold", color=INK)
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    prefix = "c" + hashlib.sha256(repr((size.name, key)).encode()).hexdigest()[:8]
    return _clean_svg(buffer.getvalue(), title, desc, prefix, size)


def _clean_svg(text: str, title: str, desc: str, prefix: str, size: Size = WIDE) -> str:
    """matplotlib's SVG made fit to inline: no styles, unique ids, a title and description."""
    root = ET.fromstring(text)
    tag = lambda name: f"{{{_SVG_NS}}}{name}"  # noqa: E731
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in (tag("metadata"), tag("style"), tag("script")):
                parent.remove(child)
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    href = f"{{{_XLINK_NS}}}href"
    for el in root.iter():
        style = el.attrib.pop("style", None)
        if style:
            for declaration in style.split(";"):
                name, _, value = declaration.partition(":")
                name, value = name.strip(), value.strip()
                if name in _PRESENTATION and value:
                    el.set(name, value)
        if el.get("id"):
            el.set("id", f"{prefix}-{el.get('id')}")
        for attr in ("clip-path", "mask", "fill", "stroke"):
            value = el.get(attr)
            if value and "url(#" in value:
                el.set(attr, _URL_REF.sub(lambda m: f"url(#{prefix}-{m.group(1)})" if m.group(1) in ids
                                          else m.group(0), value))
        for attr in (href, "href"):
            value = el.get(attr)
            if value and value.startswith("#") and value[1:] in ids:
                el.set(attr, f"#{prefix}-{value[1:]}")
    # What the dropped <style> said, as inherited attributes.
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    width, height = root.get("viewBox").split()[2:]
    root.set("width", width)
    root.set("height", height)
    root.set("role", "img")
    root.set("aria-labelledby", f"{prefix}-title {prefix}-desc")
    root.set("class", f"chart chart-{size.name}")
    title_el = ET.Element(tag("title"), id=f"{prefix}-title")
    title_el.text = title
    desc_el = ET.Element(tag("desc"), id=f"{prefix}-desc")
    desc_el.text = desc
    root.insert(0, desc_el)
    root.insert(0, title_el)
    return ET.tostring(root, encoding="unicode")


def share_sparkline_svg(periods: Sequence[dict], width: int = 140, height: int = 36) -> str:
    """A small inline SVG of a pain point's share of comments per period, with its interval as a band.

    ``periods`` are ``report.json``'s ``trend.periods``. Only numbers are drawn
    (no text from comments), so nothing needs escaping; the title says what it shows.
    """
    points = [p for p in periods if p.get("share") is not None]
    if not points:
        return ""
    top = max(max(p["ci_high"] or p["share"] for p in points), 0.01)
    step = (width - 4) / max(len(points) - 1, 1)

    def xy(i: int, value: float) -> str:
        return f"{2 + i * step:.1f},{height - 2 - (height - 4) * value / top:.1f}"

    line = " ".join(xy(i, p["share"]) for i, p in enumerate(points))
    band = " ".join([xy(i, p["ci_high"]) for i, p in enumerate(points)]
                    + [xy(i, p["ci_low"]) for i, p in reversed(list(enumerate(points)))])
    last = points[-1]
    title = (f"Share of comments per period, {len(points)} periods; latest {last['share'] * 100:.0f}% "
             f"({last['ci_low'] * 100:.0f}–{last['ci_high'] * 100:.0f}%)")
    return (f'<svg class="sparkline" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
            f'<polygon points="{band}" fill="#c7d7f2" opacity="0.7"/>'
            f'<polyline points="{line}" fill="none" stroke="#2356a8" stroke-width="1.5"/></svg>')
