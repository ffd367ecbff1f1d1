"""Private files on disk: the SQLite database (with its ``-wal`` and ``-shm``), its directory, and the other
files that hold secrets (the development API key file, keystores).

The database holds every customer's data and the webhook signing secrets, so a new data directory is
created 0700 and a new database file 0600 (SQLite gives its ``-wal`` and ``-shm`` the database file's
permissions). An existing one that is readable or writable by others is left as the operator made it,
with a warning at start naming the file and the command that fixes it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("pacspace.files")
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def too_open(path: Path) -> int | None:
    """The permission bits of ``path`` when group or others have any access to it, else None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    return mode if mode & 0o077 else None


def warn_if_open(path: Path, private_mode: int = PRIVATE_FILE) -> bool:
    """Log a warning when ``path`` is wider than private; True if it was."""
    mode = too_open(path)
    if mode is None:
        return False
    log.warning(
        "a private file is readable or writable by other users",
        extra={"path": str(path), "mode": oct(mode), "fix": f"chmod {private_mode:o} {path}"},
    )
    return True


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) 0700, or warn if it exists wider."""
    if path.exists():
        warn_if_open(path, PRIVATE_DIR)
        return
    path.mkdir(parents=True, mode=PRIVATE_DIR, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)  # mkdir's mode is cut by the umask, never widened: make it exact


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is missing (before anything writes into it), or warn if it
    exists wider."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        warn_if_open(path)


def private_sqlite(database: Path) -> None:
    """The database's directory and file, created private; its -wal and -shm checked if they exist."""
    private_dir(database.parent)
    private_file(database)
    for suffix in ("-wal", "-shm", "-journal"):
        warn_if_open(Path(f"{database}{suffix}"))
