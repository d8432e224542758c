"""The desktop GUI (PySide6). Qt is imported only here and in `seggui.jobs`.

`seggui.app.run_gui(paths)` starts it; `seggui.ui.main_window.MainWindow` is the window.
"""
