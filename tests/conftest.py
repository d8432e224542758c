"""Shared test configuration: offscreen Qt, isolated settings, the shared real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep torch from oversubscribing the 2-core CI machine when tests run.
os.environ.setdefault("OMP_NUM_THREADS", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEGGUI_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data next to the checkout; tests using it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real third-party data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Settings, user model folders and caches go to a per-test folder, never the real home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SEGGUI_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("SEGGUI_MODELS_DIR", str(home / "models"))
    monkeypatch.setenv("SEGGUI_LOG_DIR", str(home / "logs"))  # error dialogs write their tracebacks here
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg"))
