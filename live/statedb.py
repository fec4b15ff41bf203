"""The state databases (likes, presets, recommendations: SQLite in the state folder), checked at
start: one that is corrupt, or locked by another process, stops the server with its name.

Likes and presets are committed before they are acknowledged, so a killed server loses none;
recommend.sqlite is in WAL mode. Reading here makes no file: a database that is not there yet is
made by the first like or stored preset, as before.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

STATE_FILES = ("likes.sqlite", "presets.sqlite", "recommend.sqlite")
LOCK_WAIT_S = 2.0  # a write another process holds longer than this is a lock, not a commit


class StateError(Exception):
    """A state database cannot be used; the message names the file and what to do."""


def check(path: Path, wait_s: float = LOCK_WAIT_S) -> None:
    """Refuse a database that is corrupt or that another process holds locked."""
    if not path.exists():
        return
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=wait_s)
    except sqlite3.Error as e:
        raise StateError(f"state database {path} cannot be opened: {e}") from None
    try:
        row = db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise StateError(f"state database {path} is corrupt ({row[0] if row else 'no answer'}); "
                             "move it aside (a new one is made) or restore a copy")
        db.execute("BEGIN IMMEDIATE")  # can this process write? (a lock holder makes it wait)
        db.rollback()
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            raise StateError(f"state database {path} is locked by another process ({e}); is another "
                             "livegen running on this state folder? Stop it, or give this patch "
                             "its own [server] state_dir") from None
        raise StateError(f"state database {path} cannot be used: {e}") from None
    except sqlite3.DatabaseError as e:
        raise StateError(f"state database {path} is corrupt ({e}); move it aside (a new one is "
                         "made) or restore a copy") from None
    finally:
        db.close()


def check_folder(folder: Path) -> None:
    """Check every state database there is in the state folder."""
    for name in STATE_FILES:
        check(folder / name)
