"""Garbage cycles holding Qt widgets are collected on the GUI thread only while a window is open
(seggui.ui.gui_thread_gc). Collected from a worker thread, such a widget crashed the process
(segmentation fault) or deadlocked it (seen in a long random sitting)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

from PySide6.QtWidgets import QWidget

from seggui.ui import gui_thread_gc
from seggui.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]

# A job allocating many lists makes the interpreter's automatic collection fire on the worker
# thread; fifty widgets in reference cycles are waiting to be collected.
SCRIPT = textwrap.dedent("""
    import gc
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QWidget
    app = QApplication([])
    from seggui.jobs.worker import Job
    from seggui.ui.main_window import MainWindow
    window = MainWindow()
    for _ in range(50):
        widget = QWidget()
        widget.itself = widget
    def allocate(context):
        return len([[] for _ in range(300000)])
    job = Job(allocate, name="allocate")
    job.finished.connect(app.quit)
    job.start()
    QTimer.singleShot(30000, app.quit)
    app.exec()
    print("job finished" if not job.is_running else "job still running")
""")


def test_a_worker_allocating_while_widgets_wait_in_cycles_neither_crashes_nor_hangs():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    completed = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                               cwd=ROOT, env=env)
    assert completed.returncode == 0, (completed.returncode, completed.stderr[-2000:])  # was -11 (SIGSEGV)
    assert "job finished" in completed.stdout


def test_collection_is_on_the_gui_timer_while_a_window_exists(qtbot):
    before = gui_thread_gc.holders()
    window = MainWindow()
    assert gui_thread_gc.holders() == before + 1 and not gc.isenabled()
    collector = window.garbage_collector
    widget = QWidget()
    widget.itself = widget  # only the cyclic collector frees it
    gone = weakref.ref(widget)
    del widget
    kept = [[] for _ in range(gc.get_threshold()[0] + 10)]  # generation 0 past its threshold
    assert gone() is not None  # automatic collection is off
    collections = collector.collections
    qtbot.waitUntil(lambda: gone() is None, timeout=5000)  # the timer collected it, on this thread
    assert collector.collections > collections and len(kept) > 0
    window.close()
    window.deleteLater()
    qtbot.waitUntil(lambda: gui_thread_gc.holders() == before, timeout=5000)
    assert gc.isenabled() == (before == 0)
