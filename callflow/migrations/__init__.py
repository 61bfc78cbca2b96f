"""The SQL migrations, shipped as package data: plain Postgres, applied in file-name order to the
embedded Postgres and to a Supabase database alike (`migrations/` at the repository root links
here).
"""

from __future__ import annotations

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent


def migration_files(migrations_dir: Path | None = None) -> list[Path]:
    folder = migrations_dir or MIGRATIONS_DIR
    if not folder.is_dir():
        raise FileNotFoundError(
            f"migrations folder {folder} not found: pass migrations_dir= a folder of *.sql files"
        )
    return sorted(folder.glob("*.sql"))
