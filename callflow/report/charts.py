"""The report's charts, drawn with matplotlib (Agg, no display) as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on servers and in CI

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from callflow.report.figures import Report

# Outcome colours: completed green, the user's choices grey, the system's failures warm.
OUTCOME_COLOURS = {
    "completed": "#2e7d32",
    "no_conversation": "#f9a825",
    "no_agent": "#ef6c00",
    "no_capacity": "#8e24aa",
    "unreachable": "#6d4c41",
    "failed": "#c62828",
    "missed": "#90a4ae",
    "declined": "#b0bec5",
    "cancelled": "#cfd8dc",
    "skipped": "#eceff1",
}


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def outcomes_per_day(report: Report) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    days = [d.day for d in report.per_day]
    outcomes = sorted({o for d in report.per_day for o in d.outcomes}, key=_outcome_order)
    bottom = [0] * len(days)
    for outcome in outcomes:
        counts = [d.outcomes.get(outcome, 0) for d in report.per_day]
        ax.bar(days, counts, bottom=bottom, label=outcome, color=OUTCOME_COLOURS.get(outcome))
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_title("Outcomes per day")
    ax.set_ylabel("calls")
    if outcomes:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.tick_params(axis="x", labelrotation=30)
    return _png(fig)


def first_audio_distribution(report: Report, target_ms: float) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    values = report.first_audio_values_ms
    if values:
        ax.hist(values, bins=min(30, max(5, len(values))), color="#1565c0")
    ax.axvline(target_ms, color="#c62828", linestyle="--", label=f"target p95 {target_ms:.0f} ms")
    p95 = report.first_audio_ms["p95"]
    if p95 is not None:
        ax.axvline(p95, color="#2e7d32", linestyle=":", label=f"p95 {p95:.0f} ms")
    ax.set_title(f"Agent first audio ({len(values)} calls)")
    ax.set_xlabel("ms from the phone joining")
    ax.set_ylabel("calls")
    ax.legend(fontsize=8)
    return _png(fig)


def cost_per_minute(report: Report, target_usd: float) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    days = [d.day for d in report.per_day]
    costs = [d.cost_per_minute_usd for d in report.per_day]
    low, high = report.baseline_per_minute_usd["low"], report.baseline_per_minute_usd["high"]
    ax.axhspan(low, high, color="#ffcc80", alpha=0.5, label=f"ElevenLabs ${low:.2f}-{high:.2f}")
    ax.axhline(target_usd, color="#c62828", linestyle="--", label=f"target ${target_usd:.3f}")
    xs = [d for d, c in zip(days, costs, strict=True) if c is not None]
    ys = [c for c in costs if c is not None]
    ax.plot(xs, ys, marker="o", color="#1565c0", label="callflow")
    ax.set_title("Cost per call-minute against the baseline")
    ax.set_ylabel("USD per minute")
    ax.set_ylim(0, max([high * 1.15, *ys]))
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=30)
    return _png(fig)


def _outcome_order(outcome: str) -> int:
    order = list(OUTCOME_COLOURS)
    return order.index(outcome) if outcome in order else len(order)
