"""The Model panel's model choice: which model pre-segments, and the project's versions.

`ModelChooser` binds the listed models (seggui.ui.model_catalogue) to the model combo, the
"not the active model" note, the model's details and the status bar's "model: <active>";
its `versions_box` binds the project's fine-tuned versions to a list with Make active, Use
bundled model and Add model folder. The Model panel places both (the versions box at the
bottom of the panel, below the run and the proposal) and reads the choice from here.

    chooser = ModelChooser(window, parent)
    chooser.model_selected.connect(...)  # the selected ModelInfo, or None
    chooser.refresh_models(reset=True)
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget,
)

from seggui.core.errors import SegguiError
from seggui.ui import model_catalogue as catalogue
from seggui.ui.dialogs import show_error


class ModelChooser(QWidget):
    model_selected = Signal(object)  # the selected ModelInfo (or None), after the selection changed
    versions_changed = Signal()  # a version was added or made active

    def __init__(self, window, parent: QWidget | None = None):
        super().__init__(parent)
        self.window = window
        self._models: list = []
        self._build()

    # -- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)  # lined up with the rest of the panel
        row = QHBoxLayout()
        self.model_combo = QComboBox(self)
        self.model_combo.setToolTip("The model used to pre-segment images")
        self.model_combo.currentIndexChanged.connect(self._on_model_selected)
        # Long model names must not widen the whole right dock area (and shrink the canvas).
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(14)
        row.addWidget(self.model_combo, 1)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setToolTip("List models again (after adding a weights file)")
        self.refresh_button.clicked.connect(lambda: self.refresh_models())
        row.addWidget(self.refresh_button)
        layout.addLayout(row)
        # Pre-segmenting with another model than the active one is a choice for this session:
        # say so where the choice is made, so it is never mistaken for the project's model.
        self.choice_label = QLabel(self)
        self.choice_label.setWordWrap(True)
        self.choice_label.setStyleSheet("color: #b36b00")
        layout.addWidget(self.choice_label)
        self.details = QLabel(self)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.details)
        self.weights_button = QPushButton("Choose weights file…", self)
        self.weights_button.setToolTip("Use a pretrained torchvision file you already have (seggui never downloads)")
        self.weights_button.clicked.connect(lambda: self.choose_weights_file())
        layout.addWidget(self.weights_button)

        # Placed by the panel where it wants it (a layout's addWidget makes the panel its parent).
        self.versions_box = versions = QGroupBox("Project model versions", self)
        versions_layout = QVBoxLayout(versions)
        self.versions_list = QListWidget(versions)
        self.versions_list.setToolTip("Fine-tuned versions of this project; earlier ones stay for rollback")
        # Long version names and metrics wrap (each entry's tooltip has the whole text): a
        # horizontal scrollbar in a narrow dock hid the entries behind it.
        self.versions_list.setWordWrap(True)
        self.versions_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.versions_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.versions_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.versions_list.setUniformItemSizes(False)
        self.versions_list.currentItemChanged.connect(lambda *_: self.update_enabled())
        versions_layout.addWidget(self.versions_list)
        row = QHBoxLayout()
        self.activate_button = QPushButton("Make active", versions)
        self.activate_button.clicked.connect(self.activate_selected_version)
        self.deactivate_button = QPushButton("Use bundled model", versions)
        self.deactivate_button.setToolTip("No project version active: the bundled model is the default")
        self.deactivate_button.clicked.connect(lambda: self.set_active_version(None))
        row.addWidget(self.activate_button)
        row.addWidget(self.deactivate_button)
        versions_layout.addLayout(row)
        self.add_version_button = QPushButton("Add model folder…", versions)
        self.add_version_button.setToolTip("Add a model trained elsewhere (a folder with weights.pt and "
                                           "card.json, e.g. from `seggui train` on a GPU server)")
        self.add_version_button.clicked.connect(lambda: self.add_model_folder())
        versions_layout.addWidget(self.add_version_button)

    # -- models ----------------------------------------------------------------------
    @property
    def project(self):
        return self.window.project

    @property
    def models(self) -> list:
        """The models listed in the combo (seggui.ml.registry.ModelInfo), in its order."""
        return list(self._models)

    def selected_model(self):
        index = self.model_combo.currentIndex()
        return self._models[index] if 0 <= index < len(self._models) else None

    def default_model(self):
        """What pre-segments unless the user picks another: the active version, else `nuclei`."""
        return catalogue.default_model(self._models, self.project)

    def refresh_models(self, select: str | None = None, reset: bool = False) -> None:
        """List models again; keep the selection (or go back to the active model with `reset`),
        or select the model whose folder or name is `select`.

        Adding a version (a finished training run, an imported folder) refreshes without
        `select`: the model that pre-segments changes only when the user chooses it.
        """
        previous = None if reset else self.selected_model()
        self._models = catalogue.available_models(self.project)
        wanted = None
        if select is not None:
            wanted = next((m for m in self._models if catalogue.model_reference(m) == select or m.name == select), None)
        if wanted is None and previous is not None:
            wanted = next((m for m in self._models if catalogue.model_reference(m) ==
                           catalogue.model_reference(previous)), None)
        wanted = wanted or self.default_model()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for info in self._models:
            text = f"{info.name}  [{info.source}]" + ("" if info.available else "  (unavailable)")
            self.model_combo.addItem(text)
        self.model_combo.setCurrentIndex(self._models.index(wanted) if wanted in self._models else -1)
        self.model_combo.blockSignals(False)
        self._on_model_selected()
        self._refresh_versions()

    def active_model_name(self) -> str:
        active = catalogue.active_version(self.project)
        if active is not None:
            return active.name
        default = self.default_model()
        return default.name if default is not None else "none"

    def _show_choice(self) -> None:
        """The note beside the combo and the status bar's permanent "model: <active>"."""
        info, default = self.selected_model(), self.default_model()
        chosen_other = (info is not None and default is not None
                        and catalogue.model_reference(info) != catalogue.model_reference(default))
        self.choice_label.setText(
            f"Not the active model ({self.active_model_name()}): pre-segmenting with {info.name} "
            "for this session only." if chosen_other else "")
        self.choice_label.setVisible(chosen_other)
        active = catalogue.active_version(self.project)
        text = f"model: {self.active_model_name()}" + ("" if active is not None else " (bundled)")
        if active is not None and (default is None or default.source != "project" or default.name != active.name):
            # e.g. its folder was deleted: say what pre-segments instead of a name that cannot load
            text += f" (unavailable; using {default.name if default is not None else 'none'})"
        if chosen_other:
            text += f" · this session: {info.name}"
        self.window.status.show_model(text, "The project's active model pre-segments images; change it with "
                                      "Make active in the Model panel" if self.project is not None else "")

    def _on_model_selected(self, *args) -> None:
        info = self.selected_model()
        self.details.setText(catalogue.describe(info) if info is not None else "No model.")
        self.details.setToolTip(str(info.weights) if info is not None and info.weights is not None else "")
        self._show_choice()
        self.update_enabled()
        self.model_selected.emit(info)

    # -- versions --------------------------------------------------------------------
    def _refresh_versions(self) -> None:
        self.versions_list.clear()
        for version in catalogue.project_versions(self.project):
            item = QListWidgetItem(catalogue.version_label(version))
            item.setData(Qt.ItemDataRole.UserRole, version.id)
            item.setToolTip(catalogue.version_label(version))
            if version.active:  # the same model the combo shows by default and the status bar names
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.versions_list.addItem(item)
        self.update_enabled()

    def activate_selected_version(self) -> None:
        item = self.versions_list.currentItem()
        if item is not None:
            self.set_active_version(item.data(Qt.ItemDataRole.UserRole))

    def set_active_version(self, version_id: str | None) -> None:
        """Make a version the project's active model (None: none; the bundled model is used)."""
        if self.project is None:
            return

        try:
            catalogue.activate_version(self.project, version_id)
        except SegguiError as error:  # e.g. a catalogue row naming a folder outside the project
            show_error(self, "Cannot make this version active", error)
            return
        self.show_active_model()
        self.versions_changed.emit()

    def show_active_model(self) -> None:
        """Select the project's active model (after it changed), dropping a session choice."""
        self.refresh_models(reset=True)

    def choose_weights_file(self, file: str | None = None) -> bool:
        """For an unavailable torchvision model: install a local pretrained file for it."""
        info = self.selected_model()
        if info is None:
            return False
        if file is None:
            file, _ = QFileDialog.getOpenFileName(self, f"Weights for {info.name}", "", "PyTorch weights (*.pth *.pt)")
            if not file:
                return False

        try:
            catalogue.install_torchvision_weights(info.kind, file)
        except SegguiError as error:
            show_error(self, "Cannot use this weights file", error)
            return False
        self.refresh_models(select=info.name)
        return True

    def add_model_folder(self, folder: str | None = None) -> bool:
        """Models > Add: copy a trained model folder into the project as a new version."""
        if self.project is None:
            return False
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Add a trained model folder")
            if not folder:
                return False

        try:
            catalogue.import_model_folder(self.project, folder)
        except SegguiError as error:
            show_error(self, "Cannot add this model", error)
            return False
        self.refresh_models()  # listed, not selected: the active model still pre-segments
        self.versions_changed.emit()
        return True

    def update_enabled(self) -> None:
        info = self.selected_model()
        has_project = self.project is not None
        self.add_version_button.setEnabled(has_project)
        self.weights_button.setVisible(info is not None and not info.available and info.source == "torchvision-cache")
        self.activate_button.setEnabled(has_project and self.versions_list.currentItem() is not None)
        self.deactivate_button.setEnabled(has_project and catalogue.active_version(self.project) is not None)
