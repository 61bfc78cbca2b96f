"""The report as one self-contained HTML page: the criteria table, the per-day table, and the
charts as embedded PNG images (no file beside it, no script)."""

from __future__ import annotations

import base64
from html import escape

from callflow.report import charts
from callflow.report.figures import Report, savings

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.met { color: #2e7d32; } .missed { color: #c62828; } .nodata { color: #888; }
figure { display: inline-block; margin: 0.5em; }
"""


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def render(report: Report) -> str:
    rows = []
    for c in report.criteria():
        css, word = {
            True: ("met", "met"),
            False: ("missed", "missed"),
            None: ("nodata", "no data"),
        }[c["met"]]
        rows.append(
            f"<tr><td>{escape(c['criterion'])}</td><td>{_fmt(c['value'])}</td>"
            f"<td>{escape(c['target'])}</td><td class='{css}'>{word}</td></tr>"
        )
    days = "".join(
        f"<tr><td>{d.day}</td><td>{d.calls}</td><td>{_fmt(d.completion_rate)}</td>"
        f"<td>{_fmt(d.first_audio_p95_ms)}</td><td>{_fmt(d.pushes_per_call)}</td>"
        f"<td>{_fmt(d.degraded_memory_rate)}</td><td>{d.redispatches}</td>"
        f"<td>{_fmt(d.cost_per_minute_usd)}</td>"
        f"<td>{escape(', '.join(f'{k} {v}' for k, v in sorted(d.outcomes.items())))}</td></tr>"
        for d in report.per_day
    )
    saved = savings(report.cost_per_minute_usd)
    saved_text = (
        f"{saved['low']:.0%} below the baseline's low end, {saved['high']:.0%} below its high end"
        if saved
        else "no call with a cost and call minutes yet"
    )
    targets = report.targets
    images = "".join(
        [
            _img(charts.outcomes_per_day(report), "outcomes per day"),
            _img(
                charts.first_audio_distribution(report, targets["first_audio_ms"]["p95_max"]),
                "agent first audio distribution",
            ),
            _img(
                charts.cost_per_minute(report, targets["cost_per_minute_usd"]["max"]),
                "cost per call-minute against the ElevenLabs baseline",
            ),
        ]
    )
    since = f" since {escape(report.since)}" if report.since else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>callflow report</title>
<style>{_STYLE}</style></head><body>
<h1>callflow report</h1>
<p id="summary">{report.calls} calls{since}; {report.call_minutes:.1f} call-minutes;
cost per minute {saved_text}.</p>
<h2>Success criteria</h2>
<table id="criteria"><tr><th>criterion</th><th>value</th><th>target</th><th></th></tr>
{"".join(rows)}</table>
<p>Completion rate: calls <code>completed</code> over every call except those the user or an
operator decided (<code>cancelled</code>, <code>skipped</code>, <code>declined</code>,
<code>missed</code>). Turn latency: the user's end of speech to the agent's first audio.</p>
<h2>Charts</h2>
{images}
<h2>Per day (UTC)</h2>
<table id="per-day"><tr><th>day</th><th>calls</th><th>completion</th><th>first audio p95 ms</th>
<th>pushes/call</th><th>degraded memory</th><th>re-dispatches</th><th>USD/min</th>
<th>outcomes</th></tr>{days}</table>
</body></html>
"""
