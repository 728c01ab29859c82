#!/usr/bin/env python3
"""Chart a benches/load.sh run as one SVG (standard library only).

    benches/chart.py target/bench-results/<timestamp> --out benches/chart.svg
    benches/chart.py RUN_A RUN_B --out compare.svg     # several runs, one after the other
    benches/chart.py target/bench-results/<timestamp>/c64 --rss --out c64.svg

A DIR is either a results directory of benches/load.sh (one subdirectory per
scenario, each holding runs.tsv) or one scenario's directory (runs.tsv directly, as
benches/load/run.sh --out and benches/load/h2.sh --out write it). For every scenario
the chart has one row per target (nginx, haproxy-http, haproxy-tcp, floor,
sluicegate, base, and direct when present) and side by side: the median req/s, with
a whisker from the lowest to the highest round, and the median proxy CPU us per
request (and, with --rss, the peak RSS). Values are written next to the bars.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

SCENARIO_ORDER = ["c64", "4k", "c1000", "c1", "t2", "h2"]
TARGET_ORDER = ["direct", "nginx", "haproxy-http", "haproxy-tcp", "floor", "sluicegate", "base"]
COLOURS = {
    "direct": "#525252",
    "nginx": "#2ca25f",
    "haproxy-http": "#2b8cbe",
    "haproxy-tcp": "#7bccc4",
    "floor": "#969696",
    "sluicegate": "#e6550d",
    "base": "#fdae6b",
}
SPARE_COLOURS = ["#756bb1", "#bcbddc", "#dd1c77", "#c994c7", "#a6761d", "#e6ab02"]
OURS = {"sluicegate", "base"}


@dataclass
class Target:
    name: str
    rps: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: float | None = None

    def median_rps(self) -> float | None:
        return statistics.median(self.rps) if self.rps else None

    def median_cpu(self) -> float | None:
        return statistics.median(self.cpu) if self.cpu else None


@dataclass
class Scenario:
    label: str
    caption: str
    rounds: int
    targets: list[Target]


def number(text: str | None) -> float | None:
    if text is None:
        return None
    text = text.strip()
    if text in ("", "-"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def read_scenario(directory: Path, label: str) -> Scenario:
    runs = directory / "runs.tsv"
    targets: dict[str, Target] = {}
    rounds: set[str] = set()
    with runs.open(newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        missing = {"round", "target", "rps"} - set(reader.fieldnames or [])
        if missing:
            raise SystemExit(f"chart.py: {runs}: no column(s) {', '.join(sorted(missing))}")
        for row in reader:
            name = row["target"]
            t = targets.setdefault(name, Target(name))
            rounds.add(row["round"])
            rps = number(row.get("rps"))
            if rps is not None:
                t.rps.append(rps)
            cpu = number(row.get("proxy_cpu_us_per_req"))
            if cpu is not None and name != "direct":
                t.cpu.append(cpu)
    rss_file = directory / "rss.tsv"
    if rss_file.exists():
        with rss_file.open(newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if row.get("target") in targets:
                    targets[row["target"]].rss = number(row.get("peak_rss_mib"))
    caption = ""
    summary = directory / "summary.md"
    if summary.exists():
        caption = next((line.strip() for line in summary.read_text().splitlines() if line.strip()), "")
    order = {n: i for i, n in enumerate(TARGET_ORDER)}
    ordered = sorted(targets.values(), key=lambda t: (order.get(t.name, len(order)), list(targets).index(t.name)))
    return Scenario(label, caption, len(rounds), ordered)


def read_run(directory: Path, prefix: str) -> tuple[list[Scenario], str]:
    """Scenarios of one DIR, and its 'Command: ...' line (empty when none)."""
    if (directory / "runs.tsv").exists():
        return [read_scenario(directory, prefix + directory.name)], ""
    subdirs = {p.name: p for p in directory.iterdir() if (p / "runs.tsv").exists()}
    if not subdirs:
        raise SystemExit(f"chart.py: {directory}: no runs.tsv in it or in its subdirectories")
    heading_order: list[str] = []
    command = ""
    summary = directory / "summary.md"
    if summary.exists():
        for line in summary.read_text().splitlines():
            m = re.match(r"## (\S+?):", line)
            if m and m.group(1) in subdirs and m.group(1) not in heading_order:
                heading_order.append(m.group(1))
            if line.startswith("Command:") and not command:
                command = line[len("Command:"):].strip().replace("`", "")
    known = {n: i for i, n in enumerate(SCENARIO_ORDER)}
    rest = sorted((n for n in subdirs if n not in heading_order), key=lambda n: (known.get(n, len(known)), n))
    return [read_scenario(subdirs[n], prefix + n) for n in heading_order + rest], command


# ---------------------------------------------------------------- drawing

FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
WIDTH = 1120
MARGIN = 24
LABEL_W = 110
ROW_H = 22
BAR_H = 15
PANEL_GAP = 28
VALUE_W = 118  # room right of the longest bar for its value


def fmt_rps(v: float) -> str:
    return f"{v:,.0f}"


def fmt_cpu(v: float) -> str:
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


def fmt_rss(v: float) -> str:
    return f"{v:.1f}"


class Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def text(self, x: float, y: float, s: str, size: int = 12, anchor: str = "start",
             weight: str = "normal", fill: str = "#222") -> None:
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(s)}</text>')

    def rect(self, x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> None:
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" '
                          f'fill="{fill}"{extra}/>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#222", width: float = 1) -> None:
        self.parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                          f'stroke="{stroke}" stroke-width="{width}"/>')


def colour_of(name: str, spare: dict[str, str]) -> str:
    if name in COLOURS:
        return COLOURS[name]
    if name not in spare:
        spare[name] = SPARE_COLOURS[len(spare) % len(SPARE_COLOURS)]
    return spare[name]


def draw(scenarios: list[Scenario], title: str, subtitle: list[str], with_rss: bool) -> str:
    metrics = [("req/s (median; whisker: min-max over rounds)", "rps"),
               ("proxy CPU µs per request (median; lower is better)", "cpu")]
    if with_rss:
        metrics.append(("peak RSS MiB (lower is better)", "rss"))
    panel_w = (WIDTH - 2 * MARGIN - LABEL_W - PANEL_GAP * (len(metrics) - 1)) / len(metrics)
    bar_max = panel_w - VALUE_W
    svg = Svg()
    spare: dict[str, str] = {}
    y = MARGIN + 18
    svg.text(MARGIN, y, title, size=18, weight="bold")
    for line in subtitle:
        for piece in textwrap.wrap(line, 165) or [""]:
            y += 18
            svg.text(MARGIN, y, piece, size=12, fill="#555")
    y += 14

    for sc in scenarios:
        y += 26
        svg.text(MARGIN, y, sc.label, size=15, weight="bold")
        for piece in textwrap.wrap(sc.caption, 180):
            y += 16
            svg.text(MARGIN, y, piece, size=11, fill="#555")
        y += 10
        top = y
        for k, (heading, key) in enumerate(metrics):
            x0 = MARGIN + LABEL_W + k * (panel_w + PANEL_GAP)
            svg.text(x0, top + 14, heading, size=11, fill="#333", weight="bold")
        y = top + 22
        rows_top = y
        peaks = {
            "rps": max((max(t.rps) for t in sc.targets if t.rps), default=0.0),
            "cpu": max((t.median_cpu() or 0.0 for t in sc.targets), default=0.0),
            "rss": max((t.rss or 0.0 for t in sc.targets), default=0.0),
        }
        nginx = next((t for t in sc.targets if t.name == "nginx"), None)
        nginx_rps = nginx.median_rps() if nginx else None
        for t in sc.targets:
            colour = colour_of(t.name, spare)
            bold = "bold" if t.name in OURS else "normal"
            svg.text(MARGIN + LABEL_W - 8, y + BAR_H - 3, t.name, size=12, anchor="end", weight=bold)
            for k, (_, key) in enumerate(metrics):
                x0 = MARGIN + LABEL_W + k * (panel_w + PANEL_GAP)
                value = {"rps": t.median_rps(), "cpu": t.median_cpu(), "rss": t.rss}[key]
                if value is None or peaks[key] <= 0:
                    svg.text(x0 + 4, y + BAR_H - 3, "n/a", size=11, fill="#999")
                    continue
                w = bar_max * value / peaks[key]
                svg.rect(x0, y, w, BAR_H, colour, ' rx="2"')
                label = {"rps": fmt_rps, "cpu": fmt_cpu, "rss": fmt_rss}[key](value)
                end = x0 + w
                if key == "rps" and len(t.rps) > 1:
                    lo, hi = min(t.rps), max(t.rps)
                    xl, xh = x0 + bar_max * lo / peaks[key], x0 + bar_max * hi / peaks[key]
                    mid = y + BAR_H / 2
                    svg.line(xl, mid, xh, mid, "#111", 1)
                    svg.line(xl, mid - 4, xl, mid + 4, "#111", 1)
                    svg.line(xh, mid - 4, xh, mid + 4, "#111", 1)
                    end = max(end, xh)
                if key == "rps" and t.name != "nginx" and nginx_rps and t.name in OURS | {"floor"}:
                    label += f" ({value / nginx_rps:.2f}× nginx)"
                svg.text(end + 5, y + BAR_H - 3, label, size=11, weight=bold)
            y += ROW_H
        for k in range(len(metrics)):  # axis line at zero
            x0 = MARGIN + LABEL_W + k * (panel_w + PANEL_GAP)
            svg.line(x0, rows_top - 3, x0, y - ROW_H + BAR_H + 3, "#888", 1)
        rounds = f"{sc.rounds} round" + ("s" if sc.rounds != 1 else "")
        svg.text(MARGIN + LABEL_W, y + 10, f"medians over {rounds}", size=10, fill="#777")
        y += 16

    y += MARGIN
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y:.0f}" '
            f'viewBox="0 0 {WIDTH} {y:.0f}" font-family="{FONT}">')
    background = f'<rect x="0" y="0" width="{WIDTH}" height="{y:.0f}" fill="#ffffff"/>'
    return "\n".join([head, background, *svg.parts, "</svg>", ""])


def main() -> int:
    parser = argparse.ArgumentParser(
        description="SVG chart of benches/load.sh results: median req/s and proxy CPU us/req per target.")
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR",
                        help="a benches/load.sh results directory, or one scenario's directory")
    parser.add_argument("--out", type=Path, default=Path("benches/chart.svg"),
                        help="SVG file to write (default benches/chart.svg; - for stdout)")
    parser.add_argument("--title", default="sluicegate load benchmark", help="chart title")
    parser.add_argument("--rss", action="store_true", help="add a panel of peak RSS")
    args = parser.parse_args()

    scenarios: list[Scenario] = []
    subtitle: list[str] = []
    for d in args.dirs:
        if not d.is_dir():
            parser.error(f"{d}: not a directory")
        prefix = f"{d.resolve().name}/" if len(args.dirs) > 1 and not (d / "runs.tsv").exists() else ""
        found, command = read_run(d, prefix)
        scenarios += found
        if command:
            subtitle.append(command)
    if not subtitle:
        subtitle.append(", ".join(str(d) for d in args.dirs))
    subtitle.append("2 CPUs: load generator on CPU 0, backends and proxy share CPU 1 (t2: proxy on both)."
                    " Compare targets within one scenario.")
    svg = draw(scenarios, args.title, subtitle, args.rss)
    if str(args.out) == "-":
        sys.stdout.write(svg)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(svg)
        print(f"chart.py: wrote {args.out} ({len(scenarios)} scenario(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
