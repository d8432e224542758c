"""The main window: image list (left), canvas (centre), Layers dock (right), status bar.

Later work plugs in through:
    window.add_dock(name, widget, area)      # a dock with a View menu toggle
    window.document_changed(document|None)   # a project was opened or closed
    window.current_image_changed(entry|None) # the image shown
    window.current_layer_changed(layer|None) # the active (edited) layer
    window.project / window.document / window.current_image() / window.current_layer()
    seggui.jobs.Job                          # background work with progress and cancel
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QStackedWidget, QWidget

from seggui import __version__
from seggui.core.document import Document, ImageEntry, Layer
from seggui.core.image_cache import ImageCache
from seggui.core.layers import LabelLayer
from seggui.core.project import Project
from seggui.core.tools import ToolState
from seggui.jobs import Job
from seggui.ui import gui_thread_gc
from seggui.ui.actions import WindowActions
from seggui.ui.autosave import DEFAULT_DELAY_MS, AutosaveController
from seggui.ui.canvas import Canvas
from seggui.ui.canvas_host import create_canvas
from seggui.ui.dialogs import ShortcutsDialog, error_text
from seggui.ui.file_operations import FileOperations
from seggui.ui.image_list import ImageListPanel
from seggui.ui.layers_panel import LayersPanel
from seggui.ui.settings import Settings
from seggui.ui.status_bar import StatusBar

if TYPE_CHECKING:
    from seggui.ui.model_panel import ModelPanel
    from seggui.ui.review_queue import ReviewQueue
    from seggui.ui.training_dock import TrainingDock

EMPTY_TEXT = ("<h2>Open a project or images to begin</h2>"
              "<p>File &gt; Open project… (Ctrl+O) opens a project folder.<br>"
              "File &gt; New project… (Ctrl+N) starts one; File &gt; Add images… (Ctrl+Shift+O) fills it.<br>"
              "You can also drop images or a project folder onto this window.</p>"
              "<p>Help &gt; Keyboard shortcuts (F1) lists every key.</p>")
NO_IMAGES_TEXT = ("<h2>This project has no images yet</h2>"
                  "<p>File &gt; Add images… (Ctrl+Shift+O) or Add folder of images…,<br>"
                  "or drop image files onto this window.</p>")


def unshowable_text(entry: ImageEntry) -> str:
    """What the canvas says in place of an image that would not load."""
    return (f"<h2>{html.escape(entry.name)} cannot be shown</h2>"
            f"<p>{html.escape(entry.problem or 'it could not be read')}</p>"
            "<p>Its labels on disk are left as they are. Choose another image in the list;<br>"
            "this image's tooltip there keeps the message.</p>")


BACKGROUND_LOAD_BYTES = 64 * 1024 * 1024  # image files larger than this load on a worker


class MainWindow(QMainWindow):
    document_changed = Signal(object)  # Document or None
    current_image_changed = Signal(object)  # ImageEntry or None
    current_layer_changed = Signal(object)  # ImageLayer / LabelLayer or None

    def __init__(self, settings: Settings | None = None, autosave_delay_ms: int = DEFAULT_DELAY_MS):
        super().__init__()
        # Garbage cycles (and the Qt widgets in them) are freed on this thread only.
        self.garbage_collector = gui_thread_gc.hold(self)
        self.settings = settings or Settings()
        self.autosave_delay_ms = autosave_delay_ms
        self.project: Project | None = None
        self.document: Document | None = None
        self.autosave: AutosaveController | None = None
        self.image_cache: ImageCache | None = None  # releases images viewed long ago (memory budget)
        self._loading_job: Job | None = None  # a large image being read on a worker
        self._wanted_image: ImageEntry | None = None  # what to show when that load ends
        self.layers_panel: LayersPanel | None = None
        self._current_image: ImageEntry | None = None
        self._unshowable: ImageEntry | None = None  # chosen, but its file or labels would not load
        self._current_layer: Layer | None = None
        self.docks: dict[str, QDockWidget] = {}
        # The Model, Training and Review queue docks: built on the finished window by
        # seggui.ui.model_docks.install_model_docks (they need it); None until then.
        self.model_panel: ModelPanel | None = None
        self.training_dock: TrainingDock | None = None
        self.review_queue: ReviewQueue | None = None
        self.tool_state = ToolState(brush_radius=self.settings.brush_radius, auto_label=self.settings.auto_label)
        self.tool_state.changed.connect(self._on_tool_state_changed)

        self.setWindowTitle("seggui")
        self.setObjectName("seggui_main_window")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self._first_size()  # a saved geometry, when there is one, replaces it (_restore_layout)

        self.empty_label = QLabel(EMPTY_TEXT, self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.central = QStackedWidget(self)
        self.central.addWidget(self.empty_label)
        self.canvas = create_canvas(None, self.tool_state, self)
        self.central.addWidget(self.canvas)
        self.setCentralWidget(self.central)

        self.image_list = ImageListPanel(self)
        self.image_list.current_image_changed.connect(self._show_image)
        self.layers_host = QStackedWidget(self)
        no_project = QLabel("Open a project to see the layers of its images.", self)
        no_project.setWordWrap(True)
        no_project.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        no_project.setMargin(8)
        self.layers_host.addWidget(no_project)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)

        self.files = FileOperations(self)
        self.menu_actions = WindowActions(self)
        self.add_dock("Images", self.image_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.add_dock("Layers", self.layers_host, Qt.DockWidgetArea.RightDockWidgetArea)
        # The image list gets a fifth of a wide window (up to 340 px): names of planes from one
        # microscope file differ only at their end ("… [scene 2, t 13]") and were elided to "xz-e…".
        self.resizeDocks([self.docks["Images"], self.docks["Layers"]],
                         [max(250, min(340, self.width() // 5)), 260], Qt.Orientation.Horizontal)
        self._restore_layout()
        self._update_central()

    # -- extension points ------------------------------------------------------------
    def add_dock(self, name: str, widget: QWidget,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        """Add a dock (Model, Training...) with a toggle in the View menu; returns the dock."""
        dock = QDockWidget(name, self)
        dock.setObjectName(f"dock_{name.lower().replace(' ', '_')}")  # saveState needs names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        right_docks = [d for d in self.docks.values() if self.dockWidgetArea(d) == area]
        if right_docks and area == Qt.DockWidgetArea.RightDockWidgetArea:
            self.tabifyDockWidget(right_docks[-1], dock)
            right_docks[0].raise_()
        self.docks[name] = dock
        self.menu_actions.view_menu.addAction(dock.toggleViewAction())
        return dock

    def current_image(self) -> ImageEntry | None:
        return self._current_image

    def current_layer(self) -> Layer | None:
        return self._current_layer

    # -- project ---------------------------------------------------------------------
    def set_project(self, project: Project | None, document: Document | None) -> None:
        """Show another project (the caller has dealt with unsaved changes of the old one)."""
        self._show_image(None)
        if self.autosave is not None:
            self.autosave.detach()
            self.autosave.deleteLater()
            self.autosave = None
        if self.layers_panel is not None:
            self.layers_panel.detach()
            self.layers_host.removeWidget(self.layers_panel)
            self.layers_panel.deleteLater()
            self.layers_panel = None
        if self.document is not None:
            self.document.undo_stack.changed.disconnect(self._on_history_changed)
            self.document.dirty_changed.disconnect(self._on_dirty_changed)
            self.document.layer_removed.disconnect(self._on_layer_removed)
            self.document.image_added.disconnect(self._on_images_changed)
            self.document.image_removed.disconnect(self._on_images_changed)
        if self.project is not None and self.project is not project:
            self.project.close()
        self.project, self.document = project, document
        self.image_cache = None if document is None else ImageCache(document, self._can_release)
        self._replace_canvas(document)
        if document is not None and project is not None:
            self.autosave = AutosaveController(project, document, self.autosave_delay_ms,
                                               enabled=self.settings.autosave, parent=self)
            self.autosave.state_changed.connect(lambda text: self.status.show_save_state(text))
            self.autosave.save_failed.connect(self.files.report_save_error)
            self.autosave.saved.connect(self.image_list.refresh)
            self.status.show_save_state(self.autosave.state_text)  # its first state came before the connection
            self.layers_panel = LayersPanel(document, self)
            self.layers_panel.new_layer_opacity = self.settings.label_opacity
            self.layers_panel.active_layer_requested.connect(self.set_current_layer)
            self.layers_panel.class_activated.connect(lambda class_id: setattr(self.tool_state, "class_id", class_id))
            self.layers_host.addWidget(self.layers_panel)
            self.layers_host.setCurrentWidget(self.layers_panel)
            document.undo_stack.changed.connect(self._on_history_changed)
            document.dirty_changed.connect(self._on_dirty_changed)
            document.layer_removed.connect(self._on_layer_removed)
            document.image_added.connect(self._on_images_changed)
            document.image_removed.connect(self._on_images_changed)
        else:
            self.status.show_save_state("")
        self.image_list.set_document(document)
        self._update_title()
        self.document_changed.emit(document)
        self._update_central()
        if document is not None and document.images:
            self.image_list.set_current_image(document.images[0])

    def _replace_canvas(self, document: Document | None) -> None:
        old = self.canvas
        self.canvas = create_canvas(document, self.tool_state, self)
        self.central.insertWidget(1, self.canvas)
        self.central.removeWidget(old)
        old.deleteLater()
        self.canvas.cursor_moved.connect(self._on_cursor_moved)
        if isinstance(self.canvas, Canvas):  # tool messages ("layer is locked") go to the status bar
            self.canvas.controller.message.connect(self._show_tool_message)

    def _show_tool_message(self, text: str) -> None:
        self.status.showMessage(text, 4000)

    # -- current image and layer -----------------------------------------------------
    def _show_image(self, entry: ImageEntry | None) -> None:
        if entry is not None and not entry.loaded and self._loads_slowly(entry):
            self._load_in_background(entry)
            return
        self._unshowable = None
        if entry is not None:
            try:
                entry.layers  # load pixels now, so a broken file is reported here, once
            except Exception as error:
                entry.problem = error_text(error)
                self.status.showMessage(f"Cannot show {entry.name}: {entry.problem}", 15000)
                self.image_list.model.refresh_entry(entry)
                self._unshowable, entry = entry, None
        if entry is self._current_image and entry is not None:
            return
        self._current_image = entry
        if self.document is not None:
            self.document.set_current_image(entry)  # Ctrl+Z acts on the image on screen only
        if self.image_cache is not None:
            self.image_cache.touch(entry)  # release images viewed long ago when over the budget
        self.canvas.set_image(entry)
        if self.layers_panel is not None:
            self.layers_panel.set_image(entry)
        labels = entry.label_layers if entry is not None else []
        self.set_current_layer(labels[0] if labels else (entry.image_layer if entry is not None else None))
        self.status.clear_cursor()
        self._update_central()
        self.menu_actions.update_enabled()
        self.current_image_changed.emit(entry)

    def set_current_layer(self, layer: Layer | None) -> None:
        """Make `layer` (of the current image) the one the tools edit and the panel details."""
        if layer is not None and (self._current_image is None or layer not in self._current_image.layers):
            return
        self._current_layer = layer
        self.canvas.set_active_layer(layer if isinstance(layer, LabelLayer) else None)
        if self.layers_panel is not None:
            self.layers_panel.set_active_layer(layer)
        self.current_layer_changed.emit(layer)

    def _on_layer_removed(self, entry: ImageEntry, layer: Layer) -> None:
        if entry is self._current_image and layer is self._current_layer:
            labels = entry.label_layers
            self.set_current_layer(labels[-1] if labels else entry.image_layer)

    def _on_images_changed(self, *args) -> None:
        self._update_central()
        self.menu_actions.update_enabled()
        if self._current_image is None and self.document is not None and self.document.images:
            self.image_list.set_current_image(self.document.images[0])

    def _update_central(self) -> None:
        if self._current_image is not None:
            self.central.setCurrentWidget(self.canvas)
            return
        has_project = self.document is not None
        if has_project and self._unshowable is not None and self._unshowable in self.document.images:
            # Not "open a project to begin": the project is open, this one image is the trouble.
            self.empty_label.setText(unshowable_text(self._unshowable))
        else:
            self.empty_label.setText(NO_IMAGES_TEXT if has_project and not self.document.images else EMPTY_TEXT)
        self.central.setCurrentWidget(self.empty_label)

    @staticmethod
    def _loads_slowly(entry: ImageEntry) -> bool:
        # Small files load in milliseconds: shown at once. Large ones (slides, stacks) are read
        # and hashed on a worker so the window never freezes; the old image stays until then.
        return entry.source.file_size > BACKGROUND_LOAD_BYTES

    def _load_in_background(self, entry: ImageEntry) -> None:
        self._wanted_image = entry
        if self._loading_job is not None:
            return  # the running load ends in _on_loaded, which shows what is wanted by then
        self.status.showMessage(f"Loading {entry.name}…")
        self._loading_job = Job(lambda context: entry.layers, name="load image")
        self._loading_job.finished.connect(self._on_loaded)
        self._loading_job.failed.connect(lambda error, entry=entry: self._on_load_failed(entry, error))
        self._loading_job.start()

    def _on_loaded(self) -> None:
        self._loading_job = None
        wanted, self._wanted_image = self._wanted_image, None
        if wanted is None or self.document is None or wanted not in self.document.images:
            return
        self.status.clearMessage()
        self._show_image(wanted)  # loaded now (or failed: _show_image reports it), or starts the next load

    def _on_load_failed(self, entry: ImageEntry, error: BaseException) -> None:
        entry.problem = error_text(error)
        self.status.showMessage(f"Cannot show {entry.name}: {entry.problem}", 15000)
        self.image_list.model.refresh_entry(entry)
        if self._wanted_image is entry:
            self._wanted_image = None

    def _can_release(self, entry: ImageEntry) -> bool:
        """An image off screen may give its memory back only when all of it is saved."""
        return (self.project is not None and entry is not self._current_image
                and self.document is not None and self.document.undo_stack.for_image(entry).is_clean
                and self.project.holds_saved(entry))

    # -- reviewing -------------------------------------------------------------------
    def toggle_reviewed(self, checked: bool | None = None) -> None:
        """Mark the current image reviewed, or back to what it was (predicted or new)."""
        entry = self._current_image
        if entry is None or self.document is None:
            return
        if entry.status == "reviewed":
            # Back to work in progress: a reviewed image holds a person's judgement, so it never
            # becomes "new" again (batch pre-segmentation would then be free to replace it).
            labelled = any(layer.data.any() for layer in entry.label_layers)
            self.document.set_status(entry, "edited" if labelled else "new", entry.status_model)
        else:
            self.document.set_status(entry, "reviewed")
        self.menu_actions.update_enabled()

    # -- feedback --------------------------------------------------------------------
    def _on_cursor_moved(self, x: int, y: int) -> None:
        label_layer = self._current_layer if isinstance(self._current_layer, LabelLayer) else None
        self.status.show_cursor(self._current_image, label_layer, x, y)

    def _on_history_changed(self) -> None:
        self.menu_actions.update_enabled()

    def _on_dirty_changed(self, dirty: bool) -> None:
        self._update_title()

    def _on_tool_state_changed(self, name: str, value) -> None:
        if name == "brush_radius":
            self.status.showMessage(f"Brush radius {value:.1f} px", 2000)

    def _update_title(self) -> None:
        name = self.project.folder.name if self.project is not None else ""
        if name and self.project.read_only:
            name += " (read-only)"
        self.setWindowTitle(f"{name}[*] — seggui" if name else "seggui")
        self.setWindowModified(bool(self.document is not None and self.document.dirty))

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).exec()

    def show_about(self) -> None:
        QMessageBox.about(self, "About seggui",
                          f"<b>seggui {__version__}</b><p>Annotate microscopy images, correct model "
                          "proposals with a brush, fine-tune a U-Net.</p>")

    # -- window events ---------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files.open_paths(paths)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.confirm_close():
            event.ignore()
            return
        self._save_layout()
        self.set_project(None, None)
        event.accept()

    def _first_size(self) -> None:
        """Nine tenths of the screen's free area, centred, up to 1920 x 1200 (1280 x 720 where
        there is no screen to ask): a fixed size filled a laptop and left a desktop mostly empty."""
        screen = QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(1280, 720)
            return
        free = screen.availableGeometry()
        width = min(free.width(), max(1024, min(1920, int(free.width() * 0.9))))
        height = min(free.height(), max(640, min(1200, int(free.height() * 0.9))))
        self.resize(width, height)
        self.move(free.x() + (free.width() - width) // 2, free.y() + (free.height() - height) // 2)

    def _save_layout(self) -> None:
        self.settings.set_bytes_value("window/geometry", self.saveGeometry())
        self.settings.set_bytes_value("window/state", self.saveState())
        self.settings.brush_radius = int(round(self.tool_state.brush_radius))
        if isinstance(self._current_layer, LabelLayer):  # the opacity last worked with
            self.settings.label_opacity = self._current_layer.opacity

    def _restore_layout(self) -> None:
        geometry = self.settings.bytes_value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.bytes_value("window/state")
        if state is not None:
            self.restoreState(state)

    def restore_later_docks(self) -> None:
        """Call after adding docks later (Model, Training) so their saved placement returns."""
        state = self.settings.bytes_value("window/state")
        if state is not None:
            self.restoreState(state)

