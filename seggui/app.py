"""Start the GUI: `run_gui(paths)` opens a project folder or images (or nothing) and runs Qt."""

from __future__ import annotations

import sys


def create_application(argv: list[str] | None = None):
    """The QApplication (created once), with seggui's names so QSettings and the OS agree."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setStyle("Fusion")  # the same widgets everywhere; follows the system's light/dark palette
    app.setApplicationName("seggui")
    app.setOrganizationName("seggui")
    app.setApplicationDisplayName("seggui")
    return app


def create_main_window(**options):
    """The complete main window: canvas, image list, layers, and the Model and Training docks."""
    from seggui.ui.main_window import MainWindow
    from seggui.ui.model_docks import install_model_docks

    window = MainWindow(**options)
    install_model_docks(window)  # window.model_panel, window.training_dock, window.review_queue
    window.restore_later_docks()
    return window


def run_gui(paths: list[str]) -> int:
    """Open the main window with `paths` (project folders or images) and run until it closes."""
    app = create_application()
    from seggui.jobs import wait_for_all

    window = create_main_window()
    from seggui.ui.unexpected_errors import install

    install(window)  # an error that escapes a handler is shown and logged, not only printed
    window.show()
    if paths:
        window.files.open_paths([str(p) for p in paths])
    code = app.exec()
    wait_for_all()  # a save still writing finishes before the process ends
    return int(code)
