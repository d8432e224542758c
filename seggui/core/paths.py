"""Where seggui keeps per-user data (models, the demo copy), following each platform's habit."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_data_dir() -> Path:
    """~/.local/share/seggui on Linux, ~/Library/Application Support/seggui on macOS,
    %APPDATA%/seggui on Windows."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "seggui"
