"""The main window's actions, menus and toolbar (every shortcut is listed in dialogs.SHORTCUTS)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from seggui.core.tools import TOOLS

if TYPE_CHECKING:
    from seggui.ui.main_window import MainWindow

# tool name -> (menu text, shortcut keys, tooltip)
TOOL_ACTIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "brush": ("Brush", ("B",), "Paint the current label (Shift+drag starts a new cell)"),
    "eraser": ("Eraser", ("E",), "Erase labels"),
    "fill": ("Fill", ("F",), "Fill a connected region with the current label"),
    "polygon": ("Polygon", ("P",), "Click points or drag a lasso; close to fill"),
    "pick": ("Pick", ("I", "K"), "Pick the label under the cursor"),
    "delete": ("Delete instance", ("Delete",), "Click an instance to delete it"),
    "merge": ("Merge", ("M",), "Click the instance to keep, then the one to merge into it"),
    "erase_region": ("Erase region", ("X",), "Drag a rectangle (Alt: lasso) to clear labels"),
    "set_class": ("Set class", ("C",), "Click an instance to give it the current class"),
    "split": ("Split cell", ("S",), "Click once in each part of a cell, then Enter: split along the neck; "
              "or drag a line across the cell to cut it there"),
    "add_cell": ("Add cell at click", ("A",), "Click on background: add the cell found there"),
    "box_cell": ("Box a cell", ("O",), "Drag a box around a missed cell: add the cell inside it"),
}


class WindowActions:
    """Builds and owns the QActions; enables them as the window's state changes."""

    def __init__(self, window: "MainWindow"):
        self.window = window
        files = window.files
        make = self._make

        # File
        self.new_project = make("&New project…", files.new_project, QKeySequence.StandardKey.New,
                                "Create a project in an empty folder")
        self.open_project = make("&Open project…", lambda: files.open_project(), QKeySequence.StandardKey.Open,
                                 "Open a project folder")
        self.add_images = make("Add &images…", lambda: files.add_images(), "Ctrl+Shift+O",
                               "Add image files to the project")
        self.add_folder = make("Add &folder of images…", lambda: files.add_folder(), None,
                               "Add every image of a folder to the project")
        self.import_annotations = make("&Import annotations…", files.import_annotations, None,
                                       "Import LabelMe, CVAT, Supervisely, COCO or mask annotations")
        self.export_annotations = make("&Export annotations…", files.export_annotations, None,
                                       "Export the project's labels to another tool's format")
        self.save = make("&Save", files.save, QKeySequence.StandardKey.Save, "Save the project now")
        self.save_as = make("Save &as…", files.save_as, "Ctrl+Shift+S", "Save the project to another folder")
        self.quit = make("&Quit", window.close, QKeySequence.StandardKey.Quit, "Quit seggui")

        # Edit
        self.undo = make("&Undo", lambda: self._document_call("undo"), QKeySequence.StandardKey.Undo)
        self.redo = make("&Redo", lambda: self._document_call("redo"), ("Ctrl+Shift+Z", "Ctrl+Y"))
        self.autosave = make("Save &automatically", files.set_autosave, None,
                             "Save a few seconds after each edit and when closing", checkable=True)
        self.autosave.setChecked(window.settings.autosave)

        # View
        self.fit = make("&Fit to window", lambda: window.canvas.fit_to_window(), "Ctrl+0")
        self.one_to_one = make("Zoom &1:1", lambda: window.canvas.zoom_1to1(), "Ctrl+1")

        # Image
        self.toggle_reviewed = make("Mark &reviewed", window.toggle_reviewed, "R",
                                    "Mark the current image reviewed, or not reviewed again", checkable=True)
        self.next_image = make("&Next image", lambda: window.image_list.select_next(1), "PgDown")
        self.previous_image = make("&Previous image", lambda: window.image_list.select_next(-1), "PgUp")
        self.next_unreviewed = make("Next &unreviewed", self._next_unreviewed, "N",
                                    "Go to the next image that is not reviewed yet")
        self.remove_images = make("Re&move from project…", self._remove_images, None,
                                  "Take the selected images out of the project (the files stay on disk; "
                                  "undoable)")
        window.image_list.add_context_action(self.remove_images)

        # Tools
        self.tool_group = QActionGroup(window)
        self.tools: dict[str, QAction] = {}
        for name in TOOLS:
            text, keys, tip = TOOL_ACTIONS.get(name, (name.replace("_", " ").title(), (), ""))
            action = make(text, lambda checked=False, tool=name: setattr(window.tool_state, "tool", tool),
                          keys, tip, checkable=True)
            self.tool_group.addAction(action)
            self.tools[name] = action
        self.only_background = make(
            "Paint only on &background", lambda checked: setattr(window.tool_state, "only_background", checked),
            "Shift+B", "Brush strokes leave other cells untouched (preserve existing labels)", checkable=True)
        self.only_background.setChecked(bool(window.tool_state.only_background))
        self.auto_label = make(
            "Stroke on background starts a new &cell", self._set_auto_label, None,
            "On: a stroke that starts on background paints a new cell, one that starts in a cell "
            "extends it, and a label picked with the pick tool or New instance stays until changed. "
            "Off: the brush always paints the current label.", checkable=True)
        self.auto_label.setChecked(bool(window.tool_state.auto_label))
        self.new_instance = make("&New instance", lambda: window.canvas.controller.new_instance(), "Shift+N",
                                 "Make the next free label id current, so the brush starts a new cell")
        self.grow_brush = make("Larger brush", lambda: window.tool_state.grow_brush(), "]")
        self.shrink_brush = make("Smaller brush", lambda: window.tool_state.shrink_brush(), "[")
        window.tool_state.changed.connect(self._on_tool_state_changed)
        self._on_tool_state_changed("tool", window.tool_state.tool)

        # Help
        self.shortcuts = make("&Keyboard shortcuts", window.show_shortcuts, "F1")
        self.about = make("&About seggui", window.show_about)

        self._build_menus()
        self._build_toolbar()
        self.update_enabled()

    def _make(self, text: str, slot: Callable, keys=None, tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self.window)
        if keys is not None:
            if isinstance(keys, (tuple, list)):
                action.setShortcuts([QKeySequence(k) for k in keys])
            else:
                action.setShortcut(QKeySequence(keys))
        shown = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if tip:
            action.setStatusTip(tip)
        action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')}" + (f" ({shown})" if shown else ""))
        action.setCheckable(checkable)
        action.triggered.connect(lambda checked=False: slot(checked) if checkable else slot())
        # Window-wide, so the keys work whatever panel has focus (text fields still get letters).
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.window.addAction(action)
        return action

    def _set_auto_label(self, checked: bool) -> None:
        self.window.tool_state.auto_label = bool(checked)
        self.window.settings.auto_label = bool(checked)

    def _next_unreviewed(self) -> None:
        """N: the next image to review, or say why nothing moved (a key with no visible
        effect reads as a missed key press)."""
        if not self.window.image_list.select_next_unreviewed():
            document = self.window.document
            text = ("No images in the project yet." if document is None or not document.images
                    else "Every other image is reviewed.")
            self.window.status.showMessage(text, 4000)

    def _remove_images(self) -> None:
        from seggui.ui.remove_images import remove_selected_images

        remove_selected_images(self.window)

    def _document_call(self, name: str) -> None:
        document = self.window.document
        if document is not None:
            getattr(document.undo_stack, name)()

    def _on_tool_state_changed(self, name: str, value) -> None:
        if name == "tool" and value in self.tools:
            self.tools[value].setChecked(True)
        elif name == "only_background":
            self.only_background.setChecked(bool(value))

    def _build_menus(self) -> None:
        bar = self.window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_project, self.open_project])
        self.recent_menu = QMenu("Open &recent", file_menu)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.add_images, self.add_folder])
        file_menu.addSeparator()
        file_menu.addActions([self.import_annotations, self.export_annotations])
        file_menu.addSeparator()
        file_menu.addActions([self.save, self.save_as])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo, self.redo])
        edit_menu.addSeparator()
        edit_menu.addAction(self.autosave)

        self.view_menu = bar.addMenu("&View")
        self.view_menu.addActions([self.fit, self.one_to_one])
        self.view_menu.addSeparator()  # dock toggles follow (MainWindow.add_dock)

        image_menu = bar.addMenu("&Image")
        image_menu.addActions([self.toggle_reviewed, self.next_unreviewed, self.next_image, self.previous_image])
        image_menu.addSeparator()
        image_menu.addAction(self.remove_images)

        tools_menu = bar.addMenu("&Tools")
        tools_menu.addActions(list(self.tools.values()))
        tools_menu.addSeparator()
        tools_menu.addActions([self.new_instance, self.only_background, self.auto_label, self.shrink_brush,
                               self.grow_brush])

        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.shortcuts, self.about])

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main toolbar", self.window)
        toolbar.setObjectName("main_toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addActions([self.open_project, self.save])
        toolbar.addSeparator()
        toolbar.addActions([self.tools[name] for name in ("brush", "eraser", "fill", "polygon", "pick",
                                                          "delete", "merge", "split", "add_cell", "box_cell")])
        toolbar.addAction(self.only_background)
        toolbar.addSeparator()
        toolbar.addActions([self.toggle_reviewed, self.next_unreviewed])
        self.toolbar = toolbar
        self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.window.settings.recent_projects()
        if not recent:
            action = self.recent_menu.addAction("No recent projects")
            action.setEnabled(False)
            return
        for folder in recent:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda checked=False, path=folder: self.window.files.open_project(path))

    def update_enabled(self) -> None:
        """Enable what makes sense now (no project: no Save; no image: no Reviewed...)."""
        window = self.window
        has_project = window.project is not None
        entry = window.current_image()
        has_images = has_project and bool(window.document and window.document.images)
        for action in (self.save, self.save_as, self.add_folder, self.export_annotations):
            action.setEnabled(has_project)
        self.export_annotations.setEnabled(has_images)
        self.toggle_reviewed.setEnabled(entry is not None)
        self.remove_images.setEnabled(has_images and not window.project.read_only)
        self.toggle_reviewed.setChecked(entry is not None and entry.status == "reviewed")
        for action in (self.next_image, self.previous_image, self.next_unreviewed):
            action.setEnabled(has_images)
        for action in (self.fit, self.one_to_one, *self.tools.values(), self.grow_brush, self.shrink_brush,
                       self.new_instance, self.only_background):
            action.setEnabled(entry is not None)
        stack = window.document.undo_stack if window.document is not None else None
        # `is not None`, not truth: an empty history of the image on screen has len() 0 while
        # the project's history (a removal) can still be undone.
        can_undo = stack is not None and stack.can_undo
        can_redo = stack is not None and stack.can_redo
        self.undo.setEnabled(can_undo)
        self.redo.setEnabled(can_redo)
        self.undo.setText(f"&Undo {stack.undo_text}" if can_undo else "&Undo")
        self.redo.setText(f"&Redo {stack.redo_text}" if can_redo else "&Redo")
