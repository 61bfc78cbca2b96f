"""Headless Chromium (Debian's package, installed by `make install`) for tests that look at a page
the way a person would: the DOM after its scripts ran, and a screenshot.

Each call starts a fresh browser with its own throw-away profile, so no test sees another's
cookies or cache.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path


class BrowserUnavailable(RuntimeError):
    """Chromium is not installed: `make install` (apt-get install chromium) provides it."""


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserUnavailable("chromium not found: run `make install` (apt-get install chromium)")


def _run(
    url: str, mode: Sequence[str], *, wait_ms: int, timeout_s: float, extra: Sequence[str]
) -> str:
    with tempfile.TemporaryDirectory(prefix="callflow-chromium-") as profile:
        argv = [
            chromium_path(),
            "--headless=new",
            "--no-sandbox",  # tests run as root in CI
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={wait_ms}",
            *extra,
            *mode,
            url,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout


def dump_dom(
    url: str, *, wait_ms: int = 8000, timeout_s: float = 90.0, extra: Sequence[str] = ()
) -> str:
    """The page's DOM (HTML) once its scripts have had `wait_ms` of virtual time."""
    return _run(url, ["--dump-dom"], wait_ms=wait_ms, timeout_s=timeout_s, extra=extra)


def screenshot(
    url: str,
    path: Path,
    *,
    size: tuple[int, int] = (1280, 1600),
    wait_ms: int = 8000,
    timeout_s: float = 90.0,
    extra: Sequence[str] = (),
) -> Path:
    """A PNG of the page at `size`, written to `path`."""
    _run(
        url,
        [f"--screenshot={path}", f"--window-size={size[0]},{size[1]}"],
        wait_ms=wait_ms,
        timeout_s=timeout_s,
        extra=extra,
    )
    if not path.exists() or path.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot to {path}")
    return path
