"""Persistent user preferences (window layout, last folders, recent projects, brush size).

One INI file: `$SEGGUI_CONFIG_DIR/seggui.ini` when that variable is set (tests isolate it
there), else the platform's per-user config location. Values are stored as JSON text so
that lists and numbers come back with their type on every platform.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

RECENT_PROJECTS_LIMIT = 10


def settings_path() -> Path:
    folder = os.environ.get("SEGGUI_CONFIG_DIR")
    if folder:
        return Path(folder) / "seggui.ini"
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
    return Path(base or Path.home() / ".config" / "seggui") / "seggui.ini"


class Settings:
    """Typed access to the user's preferences. Cheap to create; every write is persisted."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else settings_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._store = QSettings(str(self.path), QSettings.Format.IniFormat)

    # -- generic --------------------------------------------------------------------
    def value(self, key: str, default: Any = None) -> Any:
        raw = self._store.value(key)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return default

    def set_value(self, key: str, value: Any) -> None:
        self._store.setValue(key, json.dumps(value))
        self._store.sync()

    def bytes_value(self, key: str) -> QByteArray | None:
        raw = self._store.value(key)
        return raw if isinstance(raw, QByteArray) and not raw.isEmpty() else None

    def set_bytes_value(self, key: str, value: QByteArray) -> None:
        self._store.setValue(key, value)
        self._store.sync()

    # -- recent projects -------------------------------------------------------------
    def recent_projects(self) -> list[str]:
        stored = self.value("recent_projects", [])
        return [str(p) for p in stored if isinstance(p, str)] if isinstance(stored, list) else []

    def add_recent_project(self, folder: str | Path) -> None:
        folder = str(Path(folder).resolve())
        recent = [p for p in self.recent_projects() if p != folder]
        self.set_value("recent_projects", [folder, *recent][:RECENT_PROJECTS_LIMIT])

    def remove_recent_project(self, folder: str | Path) -> None:
        folder = str(Path(folder).resolve())
        self.set_value("recent_projects", [p for p in self.recent_projects() if p != folder])

    # -- folders ---------------------------------------------------------------------
    def last_folder(self, purpose: str) -> str:
        """The folder a file dialog for `purpose` ("project", "images", "import", "export") last used."""
        folder = self.value(f"folders/{purpose}", "")
        return folder if isinstance(folder, str) and folder and Path(folder).is_dir() else str(Path.home())

    def set_last_folder(self, purpose: str, folder: str | Path) -> None:
        path = Path(folder)
        self.set_value(f"folders/{purpose}", str(path if path.is_dir() else path.parent))

    # -- editing preferences ---------------------------------------------------------
    @property
    def brush_radius(self) -> int:
        return int(self.value("editing/brush_radius", 8))

    @brush_radius.setter
    def brush_radius(self, radius: int) -> None:
        self.set_value("editing/brush_radius", int(radius))

    @property
    def label_opacity(self) -> float:
        return float(self.value("editing/label_opacity", 0.5))

    @label_opacity.setter
    def label_opacity(self, opacity: float) -> None:
        self.set_value("editing/label_opacity", float(opacity))

    @property
    def auto_label(self) -> bool:
        """A stroke on background starts a new cell (False: the brush keeps the current label)."""
        return str(self.value("editing/auto_label", True)).lower() not in ("false", "0")

    @auto_label.setter
    def auto_label(self, enabled: bool) -> None:
        self.set_value("editing/auto_label", bool(enabled))

    @property
    def autosave(self) -> bool:
        return bool(self.value("editing/autosave", True))

    @autosave.setter
    def autosave(self, enabled: bool) -> None:
        self.set_value("editing/autosave", bool(enabled))
