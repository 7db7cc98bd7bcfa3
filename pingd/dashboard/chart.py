"""Charts as numbers: what ``templates/_chart.html`` draws as SVG, and the same data in words.

Nothing here writes markup. Each chart is its coordinates in a fixed
``viewBox`` (every number formatted here, as text of digits), its marks'
hover titles and a sentence that says what the chart shows, so a reader
who cannot see it, or whose browser shows no SVG, loses nothing. Outside
text never reaches a chart: titles hold only numbers, times and words
of ours, and the template escapes them all the same.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from pingd.dashboard.render import when
from pingd.domain.checks import Check
from pingd.domain.checks import Ping
from pingd.domain.checks import next_expected_ping
from pingd.domain.schedule import spell_duration

WIDTH = 300
HEIGHT = 60
MAX_RUNS = 20
MAX_ARRIVALS = 20
_PAD = 4


@dataclass(frozen=True, slots=True)
class Mark:
    """One shape: a box (``x``, ``y``, ``w``, ``h``), a line to ``x2``, ``y2``, a dot or points."""

    shape: str  # boxes: bar, hollow-bar, band, square; lines: avg, now, tick; dot; triangle
    x: str
    y: str
    w: str = "0"
    h: str = "0"
    x2: str = "0"
    y2: str = "0"
    points: str = ""
    title: str = ""


@dataclass(frozen=True, slots=True)
class Chart:
    marks: list[Mark]
    label: str  # the chart's data in one sentence: its <title> and the text beside it
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[Mark] = dataclasses.field(default_factory=list)  # drawn under the marks


def _num(value: float) -> str:
    return f"{value:.1f}"


def seconds_in_words(seconds: float) -> str:
    """Say a run's length: tenths below a minute, whole units above."""
    return f"{seconds:.1f} seconds" if seconds < 60 else spell_duration(seconds)


def duration_chart(runs: list[tuple[int, float, str]]) -> Chart | None:
    """Bars of the last runs' durations, oldest first; ``runs`` are (ping number, seconds, kind).

    A failed run's bar is hollow, so failure is told by shape, not colour.
    """
    runs = runs[-MAX_RUNS:]
    if not runs:
        return None
    seconds = [run[1] for run in runs]
    longest, average = max(seconds), sum(seconds) / len(seconds)
    scale = (HEIGHT - 2 * _PAD) / longest if longest > 0 else 0.0
    slot = WIDTH / len(runs)
    marks = []
    for i, (n, length, kind) in enumerate(runs):
        h = max(1.0, length * scale)
        marks.append(Mark("hollow-bar" if kind == "fail" else "bar", _num(i * slot + slot * 0.15),
                          _num(HEIGHT - _PAD - h), _num(slot * 0.7), _num(h),
                          title=f"Run ending with ping #{n}: {seconds_in_words(length)}"
                          + (" (failed)" if kind == "fail" else "")))  # fmt: skip
    avg_y = _num(HEIGHT - _PAD - max(1.0, average * scale))
    failed = sum(run[2] == "fail" for run in runs)
    label = (
        f"Durations of the last {len(runs)} runs: shortest {seconds_in_words(min(seconds))},"
        f" average {seconds_in_words(average)}, longest {seconds_in_words(longest)}"
    )
    if failed:
        label += f"; {failed} of them failed (hollow bars)"
    return Chart(marks, label + ".", lines=[Mark("avg", "0", avg_y, x2=str(WIDTH), y2=avg_y)])


@dataclass(frozen=True, slots=True)
class Arrival:
    ping: Ping
    due: datetime | None  # when it was due, from the ping before it; None for the first known
    late_by: timedelta | None  # > 0 when it came after it was due


def arrivals(check: Check, pings: list[Ping]) -> list[Arrival]:
    """Each of the last success or fail pings with when it was due (these move the deadline)."""
    timed = sorted((p for p in pings if p.kind in ("success", "fail")), key=lambda p: p.n)
    timed = timed[-(MAX_ARRIVALS + 1) :]
    found = []
    for before, ping in zip([None, *timed], timed, strict=False):
        due = None if before is None else _due_after(check, before.created)
        found.append(Arrival(ping, due, None if due is None else ping.created - due))
    # One more was read than is shown, so that each shown has its due time.
    return found[-MAX_ARRIVALS:]


def _due_after(check: Check, pinged: datetime) -> datetime | None:
    return next_expected_ping(dataclasses.replace(check, last_ping=pinged, last_start=None))


def _lateness(arrival: Arrival, grace: timedelta) -> str:
    if arrival.late_by is None or arrival.late_by <= timedelta():
        return "on time"
    return "late" if arrival.late_by < grace else "after it went down"


def arrival_chart(check: Check, pings: list[Ping], now: datetime) -> Chart | None:
    """Marks for when the last pings came against ticks for when each was due.

    A dot came on time, a hollow square late (within the grace time), a
    triangle after the check had gone down; the band after each tick is the
    grace time, the dashed line is now.
    """
    shown = arrivals(check, pings)
    if not shown:
        return None
    grace = timedelta(seconds=check.grace)
    following = _due_after(check, shown[-1].ping.created)
    moments = [a.ping.created for a in shown] + [a.due for a in shown if a.due] + [now]
    if following is not None:
        moments.append(following)
    start, end = min(moments), max(moments)
    span = max((end - start).total_seconds(), 1.0)

    def x(moment: datetime) -> float:
        return _PAD + (WIDTH - 2 * _PAD) * (moment - start).total_seconds() / span

    now_x = _num(x(now))
    marks, lines = [], [Mark("now", now_x, "2", x2=now_x, y2=str(HEIGHT - 2), title="now")]
    for due in [a.due for a in shown if a.due] + ([following] if following else []):
        band = min(x(due + grace), WIDTH - _PAD) - x(due)
        marks.append(Mark("band", _num(x(due)), "14", _num(band), str(HEIGHT - 28)))
        lines.append(Mark("tick", _num(x(due)), "8", x2=_num(x(due)), y2=str(HEIGHT - 8),
                          title=f"due {when(due)}"))  # fmt: skip
    counts = {"on time": 0, "late": 0, "after it went down": 0}
    for arrival in shown:
        kind = _lateness(arrival, grace)
        if arrival.due is not None:
            counts[kind] += 1
        marks.append(_point(kind, x(arrival.ping.created), _arrival_title(arrival, kind)))
    return Chart(marks, _arrival_label(shown, counts, following), lines=lines)


def _point(kind: str, at: float, title: str) -> Mark:
    cy = HEIGHT / 2
    if kind == "on time":
        return Mark("dot", _num(at), _num(cy), title=title)
    if kind == "late":
        return Mark("square", _num(at - 3.5), _num(cy - 3.5), "7", "7", title=title)
    points = (
        f"{_num(at)},{_num(cy - 5)} {_num(at - 5)},{_num(cy + 4)} {_num(at + 5)},{_num(cy + 4)}"
    )
    return Mark("triangle", _num(at), _num(cy), points=points, title=title)


def _arrival_title(arrival: Arrival, kind: str) -> str:
    title = f"Ping #{arrival.ping.n} ({arrival.ping.kind}) at {when(arrival.ping.created)}"
    if arrival.late_by is None:
        return title
    off = seconds_in_words(abs(arrival.late_by.total_seconds()))
    if kind == "on time":
        return f"{title}, {off} before it was due"
    return f"{title}, {off} late ({kind})"


def _arrival_label(shown: list[Arrival], counts: dict[str, int], following: datetime | None) -> str:
    timed = sum(counts.values())
    label = f"When the last {len(shown)} pings came against when they were due"
    if timed:
        label += f": of the {timed} with a due time, " + ", ".join(
            f"{count} {kind}" for kind, count in counts.items()
        )
    worst = max((a.late_by for a in shown if a.late_by is not None), default=None)
    if worst is not None and worst > timedelta():
        label += f"; at worst {seconds_in_words(worst.total_seconds())} late"
    if following is not None:
        label += f"; the next is due by {when(following)}"
    return label + "."
