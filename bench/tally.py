"""What every benchmark shares: memory readings, medians of runs, the printed table.

A figure is printed beside its raw counterpart (measured in the same run) and its target;
``met`` says plainly whether the median reached the target.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def rss_mb() -> float:
    """This process's resident set size now (Linux), in MB."""
    with Path("/proc/self/statm").open() as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_of(runs: Sequence[Any]) -> Any:
    """The median of each number across runs of the same shape (dicts, lists, numbers)."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: median_of([r[k] for r in runs]) for k in first}
    if isinstance(first, bool) or not isinstance(first, int | float):
        return first
    value = statistics.median(runs)
    return round(value, 3) if isinstance(value, float) else value


@dataclass(frozen=True, slots=True)
class Figure:
    """One printed line: a measure, crisisd's median, the raw counterpart, the target."""

    measure: str
    value: float
    unit: str
    raw: float | None = None  # the raw counterpart in the same runs (median)
    target: str = ""  # as printed, e.g. ">= 0.5 of raw", "< 10 s"
    met: bool | None = None  # None: no target
    runs: tuple[float, ...] = ()  # each run's value, for the record
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.raw:
            return None
        return round(self.value / self.raw, 3)


def figure(
    measure: str,
    values: Sequence[float],
    unit: str,
    *,
    raw: Sequence[float] | None = None,
    target: str = "",
    check: Callable[[float, float | None], bool] | None = None,
    note: str = "",
) -> Figure:
    """A figure from each run's value (and each run's raw value): medians, and the check
    of the target on the medians."""
    value = float(statistics.median(values))
    raw_value = float(statistics.median(raw)) if raw else None
    met = check(value, raw_value) if check else None
    return Figure(measure, round(value, 3), unit, raw_value, target, met, tuple(values), note)


def ratio_figure(
    measure: str,
    values: Sequence[float],
    raw: Sequence[float],
    target: float,
    *,
    lower_is_better: bool = False,
    note: str = "",
) -> Figure:
    """A ratio of crisisd to its raw counterpart, run by run; the median ratio is checked."""
    ratios = [v / r for v, r in zip(values, raw, strict=True) if r]
    value = float(statistics.median(ratios))
    met = value <= target if lower_is_better else value >= target
    sign = "<=" if lower_is_better else ">="
    return Figure(measure, round(value, 3), "x", None, f"{sign} {target}", met, tuple(ratios), note)


def print_table(title: str, figures: Sequence[Figure]) -> None:
    rows = [("measure", "crisisd (median)", "raw (median)", "ratio", "target", "met")]
    for f in figures:
        raw = "" if f.raw is None else f"{f.raw:g} {f.unit}"
        ratio = "" if f.ratio is None else f"{f.ratio:g}"
        met = "" if f.met is None else ("yes" if f.met else "MISSED")
        rows.append((f.measure, f"{f.value:g} {f.unit}", raw, ratio, f.target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    print(f"\n{title}")
    for i, r in enumerate(rows):
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if i == 0:
            print("-+-".join("-" * w for w in widths))
    notes = [f"  {f.measure}: {f.note}" for f in figures if f.note]
    if notes:
        print("notes:")
        print("\n".join(notes))


def emit(
    name: str,
    figures: Sequence[Figure],
    runs: Sequence[Any],
    as_json: bool,
    count: int | None = None,
) -> None:
    """Print the table, or one JSON object (figures with their targets, and every run).

    ``count``: how many runs the medians are of, when ``runs`` is not one entry a run."""
    if as_json:
        out = {"bench": name, "figures": [asdict(f) | {"ratio": f.ratio} for f in figures]}
        print(json.dumps(out | {"runs": list(runs)}, ensure_ascii=False))
    else:
        print_table(f"{name} — medians of {count or len(runs)} run(s)", figures)
