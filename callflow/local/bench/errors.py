"""Errors of the benchmarks, one hierarchy: what the caller gave wrong, what failed to start."""

from __future__ import annotations


class BenchError(Exception):
    """Base of every benchmark error."""


class BenchInputError(BenchError, ValueError):
    """A benchmark parameter is out of range; the message names it and the fix."""


class BenchSetupError(BenchError):
    """A part of the local stack (or the worker process) did not start."""


class BenchTimeout(BenchError):
    """The calls did not finish within the benchmark's time limit."""
