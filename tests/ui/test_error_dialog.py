"""Error dialogs say the cause in words; tracebacks go to the rotating log, shown only with --debug."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from seggui.core import logs
from seggui.core.errors import FormatError
from seggui.ui import dialogs


@pytest.fixture
def boxes(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGGUI_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("SEGGUI_DEBUG", raising=False)
    monkeypatch.setattr(QMessageBox, "exec", lambda self: 0)
    logs.set_debug(False)
    yield tmp_path / "logs" / "seggui.log"
    logs.set_debug(False)


def failing() -> BaseException:
    try:
        {}["missing"]
    except KeyError as error:
        return error


def test_dialog_gives_the_cause_and_logs_the_traceback(qtbot, boxes):
    box = dialogs.show_error(None, "Import failed", failing())
    assert "Traceback" not in box.text() and "KeyError" not in box.text()
    assert "missing" in box.text()
    assert box.detailedText() == ""  # no Show Details without --debug
    assert str(boxes) in box.informativeText()
    logged = boxes.read_text(encoding="utf-8")
    assert "Import failed" in logged and "Traceback" in logged and "KeyError" in logged


def test_background_job_traceback_is_logged(qtbot, boxes):
    error = FormatError("not a LabelMe file", "a.json")
    error.traceback_text = "Traceback (most recent call last):\n  File \"x.py\", line 1\nFormatError"
    box = dialogs.show_error(None, "Import failed", error, "Check the file.")
    assert box.text() == "a.json: not a LabelMe file"
    assert box.informativeText().startswith("Check the file.")
    assert "x.py" in boxes.read_text(encoding="utf-8")


def test_debug_shows_the_traceback(qtbot, boxes):
    logs.set_debug(True)
    box = dialogs.show_error(None, "Import failed", failing())
    assert "Traceback" in box.detailedText() and "KeyError" in box.detailedText()


def test_cli_debug_flag_reaches_the_dialogs(monkeypatch):
    from seggui import cli

    seen = []
    monkeypatch.setattr("seggui.app.run_gui", lambda paths: seen.append(logs.debug_enabled()) or 0)
    try:
        assert cli.main(["--debug"]) == 0
        assert cli.main([]) == 0
    finally:
        logs.set_debug(False)
    assert seen == [True, False]


def test_log_rotates(boxes):
    for _ in range(2 * (logs.BACKUPS + 2)):  # one half-size entry per file: more files than are kept
        logs.log_error("big", "y" * (logs.MAX_BYTES // 2))
    folder = boxes.parent
    assert (folder / "seggui.log.1").exists() and (folder / f"seggui.log.{logs.BACKUPS}").exists()
    assert not (folder / f"seggui.log.{logs.BACKUPS + 1}").exists()  # the oldest went
    assert all(path.stat().st_size <= logs.MAX_BYTES for path in folder.iterdir())


def test_plain_words_for_other_errors():
    assert dialogs.error_text(MemoryError()) == "There is not enough memory for this."
    assert "bug" in dialogs.error_text(RuntimeError())
