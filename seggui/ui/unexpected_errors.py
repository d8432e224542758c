"""Errors nobody foresaw, in front of the person instead of on a terminal nobody reads.

    install(window)  # run_gui does this; the previous hook is back when the window is destroyed

An exception that escapes a slot or an event handler (a bug, or input nothing foresaw) reaches
sys.excepthook while Qt's event loop goes on. The default hook prints it to standard error: in
the window the click simply did nothing. Here the status bar names it and the usual error box
(seggui.ui.dialogs.show_error: the cause in words, the traceback in seggui's log) says so, once
per kind of error, since an error in a repaint would otherwise open a box per frame. The box is
opened from the event loop, not from inside the failing handler.
"""

from __future__ import annotations

import sys
import traceback

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow

from seggui.core import logs
from seggui.ui.dialogs import show_error

TITLE = "Unexpected error"
ADVICE = ("The last action did not complete. Check the image on screen before going on: "
          "Edit > Undo takes back a change it made. Please report the error with the log file.")
STATUS_MS = 15000


class UnexpectedErrors:
    def __init__(self, window: QMainWindow):
        self.window = window
        self.shown: set[tuple[str, str]] = set()
        self.previous = sys.excepthook

    def __call__(self, kind, error, trace) -> None:
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: not ours to report
            self.previous(kind, error, trace)
            return
        sys.stderr.write("".join(traceback.format_exception(kind, error, trace)))
        key = (kind.__name__, str(error))
        try:
            self.window.statusBar().showMessage(f"{TITLE}, the last action did not complete: {error}", STATUS_MS)
        except RuntimeError:  # the window is already gone: standard error has it
            return
        if key in self.shown:
            logs.log_error(TITLE, error)  # each time in the log, the box once
            return
        self.shown.add(key)
        QTimer.singleShot(0, lambda: show_error(self.window, TITLE, error, ADVICE))


def install(window: QMainWindow) -> UnexpectedErrors:
    """Route unexpected errors to `window` until it is destroyed."""
    hook = UnexpectedErrors(window)
    sys.excepthook = hook
    previous = hook.previous

    def restore(*_):
        if sys.excepthook is hook:
            sys.excepthook = previous

    window.destroyed.connect(restore)
    return hook
