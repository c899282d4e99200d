"""Where relman keeps its state when nobody says otherwise (one definition for every module)."""

from __future__ import annotations

import os
from pathlib import Path


def default_state_dir() -> Path:
    """$RELMAN_STATE_DIR, else $XDG_STATE_HOME/relman, else ~/.local/state/relman."""
    if os.environ.get("RELMAN_STATE_DIR"):
        return Path(os.environ["RELMAN_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "relman"
