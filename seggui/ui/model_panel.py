"""The Model dock: choose a model, set its options, pre-segment, accept the proposal, pick
the project's active fine-tuned version.

Prediction runs as a `Job` off the GUI thread. A single image's result becomes a proposal
drawn over the image (canvas.set_proposal) until the user accepts or discards it; a batch
("all new images") accepts each result as its own undo step as it arrives and goes on past
images that fail.

    from seggui.ui.model_docks import install_model_docks
    model_panel, training_dock = install_model_docks(window)
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
    QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from seggui.core import records
from seggui.jobs.prediction import PredictionResult, PredictionTask, predict_images
from seggui.jobs.worker import Job
from seggui.ml.inference import PredictOptions, default_threads
from seggui.ml.postprocess import InstanceParams
from seggui.ui import model_catalogue as catalogue
from seggui.core.proposals import MODES, REPLACE, accept_proposal, batch_may_change, batch_proposal, target_layer


class ModelPanel(QWidget):
    versions_changed = Signal()  # a version was added or made active
    # Worker thread -> GUI thread: Qt queues signals emitted from another thread.
    _result_ready = Signal(object)

    def __init__(self, window, parent: QWidget | None = None):
        super().__init__(parent)
        self.window = window
        self._models = []
        self._job: Job | None = None
        self._batch_failures: list[str] = []
        self._batch_applied = 0
        self._batch_skipped: list[str] = []  # names of images a person began editing during the batch
        self._labelled_layers: dict[str, tuple[int, bool]] = {}  # layer id -> (version, holds labels)
        self._batch_record = None  # (project, job id) of the running batch, for records.finish_job
        self._batch = False
        self._job_model = ""  # name of the model the running job predicts with
        self._cancel_requested = False
        self._proposal: tuple[str, np.ndarray, str] | None = None  # image id, labels, model name
        self._proposal_scores: dict[int, float] = {}  # the proposal's cell id -> confidence
        self._document = None
        self._result_ready.connect(self._on_result)
        self._build()
        window.document_changed.connect(self._on_document_changed)
        window.current_image_changed.connect(self._on_image_changed)
        self._on_document_changed(window.document)

    # -- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
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

        options = QGroupBox("Options", self)
        form = QFormLayout(options)
        self.tile_spin = QSpinBox(options)
        self.tile_spin.setRange(128, 4096)
        self.tile_spin.setSingleStep(128)
        self.tile_spin.setValue(1024)
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip("Larger images are processed in tiles of this size (smaller uses less memory)")
        form.addRow("Tile size", self.tile_spin)
        self.foreground_spin = self._threshold_spin("Probability above which a pixel is a cell")
        form.addRow("Cell threshold", self.foreground_spin)
        self.seed_spin = self._threshold_spin("Confidence above which a cell centre starts an object "
                                              "(higher splits fewer touching cells)")
        form.addRow("Seed threshold", self.seed_spin)
        self.min_size_spin = QSpinBox(options)
        self.min_size_spin.setRange(0, 100_000)
        self.min_size_spin.setSuffix(" px")
        self.min_size_spin.setToolTip("Objects smaller than this are dropped as noise")
        form.addRow("Minimum object size", self.min_size_spin)
        self.mode_combo = QComboBox(options)
        for mode, text in MODES.items():
            self.mode_combo.addItem(text, mode)
        self.mode_combo.setToolTip("How an accepted proposal (and every batch result) enters the label layer")
        self.mode_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode_combo.setMinimumContentsLength(14)
        form.addRow("Accept as", self.mode_combo)
        layout.addWidget(options)

        self.predict_button = QPushButton("Pre-segment this image", self)
        self.predict_button.clicked.connect(self.predict_current)
        layout.addWidget(self.predict_button)
        self.batch_button = QPushButton("Pre-segment all new images", self)
        self.batch_button.setToolTip("Every image still marked new, each result one undo step on its image. "
                                     "Images a person edited or reviewed are never touched; a new image "
                                     "that already holds labels gets the proposal only where nothing is "
                                     "labelled, whatever 'Accept as' says.")
        self.batch_button.clicked.connect(self.predict_new_images)
        layout.addWidget(self.batch_button)

        row = QHBoxLayout()
        self.progress_bar = QProgressBar(self)
        row.addWidget(self.progress_bar, 1)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.progress_label = QLabel(self)
        self.progress_label.setWordWrap(True)
        layout.addWidget(self.progress_label)

        self.proposal_box = QGroupBox("Proposal", self)
        proposal_layout = QVBoxLayout(self.proposal_box)
        self.proposal_label = QLabel(self.proposal_box)
        self.proposal_label.setWordWrap(True)
        proposal_layout.addWidget(self.proposal_label)
        row = QHBoxLayout()
        self.accept_button = QPushButton("Accept", self.proposal_box)
        self.accept_button.setToolTip("Put the proposal into the label layer (one undo step)")
        self.accept_button.clicked.connect(self.accept)
        self.discard_button = QPushButton("Discard", self.proposal_box)
        self.discard_button.clicked.connect(self.discard)
        row.addWidget(self.accept_button)
        row.addWidget(self.discard_button)
        proposal_layout.addLayout(row)
        layout.addWidget(self.proposal_box)

        versions = QGroupBox("Project model versions", self)
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
        self.versions_list.currentItemChanged.connect(lambda *_: self._update_enabled())
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
        layout.addWidget(versions)
        layout.addStretch(1)
        self._show_idle()

    def _threshold_spin(self, tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setRange(0.01, 0.99)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        spin.setToolTip(tip)
        return spin

    # -- models ----------------------------------------------------------------------
    @property
    def project(self):
        return self.window.project

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
        show_model = getattr(getattr(self.window, "status", None), "show_model", None)
        if show_model is not None:
            active = catalogue.active_version(self.project)
            text = f"model: {self.active_model_name()}" + ("" if active is not None else " (bundled)")
            if active is not None and (default is None or default.source != "project" or default.name != active.name):
                # e.g. its folder was deleted: say what pre-segments instead of a name that cannot load
                text += f" (unavailable; using {default.name if default is not None else 'none'})"
            if chosen_other:
                text += f" · this session: {info.name}"
            show_model(text, "The project's active model pre-segments images; change it with Make active "
                       "in the Model panel" if self.project is not None else "")

    def _on_model_selected(self, *args) -> None:
        info = self.selected_model()
        self.details.setText(catalogue.describe(info) if info is not None else "No model.")
        if info is not None:
            params = InstanceParams.from_json(info.card.get("postprocess"))
            self.foreground_spin.setValue(params.foreground_threshold)
            self.seed_spin.setValue(params.seed_threshold)
            self.min_size_spin.setValue(int(info.card.get("postprocess", {}).get("min_size", params.min_size)))
            network = info.kind != "classic"
            why = "" if network else "The classic model picks its threshold itself (Otsu)"
            for spin in (self.foreground_spin, self.seed_spin):
                spin.setEnabled(network)
                spin.setStatusTip(why)
        self._show_choice()
        self._update_enabled()

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
        self._update_enabled()

    def activate_selected_version(self) -> None:
        item = self.versions_list.currentItem()
        if item is not None:
            self.set_active_version(item.data(Qt.ItemDataRole.UserRole))

    def set_active_version(self, version_id: str | None) -> None:
        """Make a version the project's active model (None: none; the bundled model is used)."""
        if self.project is None:
            return
        from seggui.core.errors import SegguiError
        from seggui.ui.dialogs import show_error

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
            from PySide6.QtWidgets import QFileDialog

            file, _ = QFileDialog.getOpenFileName(self, f"Weights for {info.name}", "", "PyTorch weights (*.pth *.pt)")
            if not file:
                return False
        from seggui.core.errors import SegguiError
        from seggui.ui.dialogs import show_error

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
            from PySide6.QtWidgets import QFileDialog

            folder = QFileDialog.getExistingDirectory(self, "Add a trained model folder")
            if not folder:
                return False
        from seggui.core.errors import SegguiError
        from seggui.ui.dialogs import show_error

        try:
            catalogue.import_model_folder(self.project, folder)
        except SegguiError as error:
            show_error(self, "Cannot add this model", error)
            return False
        self.refresh_models()  # listed, not selected: the active model still pre-segments
        self.versions_changed.emit()
        return True

    # -- document and image ----------------------------------------------------------
    def _on_document_changed(self, document) -> None:
        if self._job is not None:
            self.cancel()
        if self._document is not None:
            self._document.status_changed.disconnect(self._on_status_changed)
            self._document.undo_stack.changed.disconnect(self._update_enabled)
        self._document = document
        if document is not None:
            document.status_changed.connect(self._on_status_changed)
            document.undo_stack.changed.connect(self._update_enabled)  # the batch plan follows edits
        self._proposal = None
        self.refresh_models(reset=True)  # another project: its own active model, no session choice
        self._show_idle()

    def _on_status_changed(self, entry) -> None:
        self._update_enabled()

    def _on_image_changed(self, entry) -> None:
        if self._proposal is not None and (entry is None or entry.id != self._proposal[0]):
            self._proposal = None  # the canvas drops the overlay when it shows another image
        self._show_proposal()

    def _new_images(self) -> list:
        document = self.window.document
        if document is None:
            return []
        return [e for e in document.images if batch_may_change(e)]

    def _holds_labels(self, entry) -> bool:
        if entry.loaded:
            return any(self._layer_has_labels(layer) for layer in entry.label_layers)
        return entry.instance_count > 0  # counted at the last save; the pixels are on disk

    def _layer_has_labels(self, layer) -> bool:
        # The plan is redrawn after every edit and looks at every loaded image: scan a layer's
        # pixels only when its version moved since the last look, so a stroke costs one scan.
        seen = self._labelled_layers.get(layer.id)
        if seen is None or seen[0] != layer.version:
            seen = (layer.version, bool(layer.data.any()))
            self._labelled_layers[layer.id] = seen
        return seen[1]

    def batch_plan(self) -> str:
        """What "Pre-segment all new images" will do, said before it starts."""
        document = self.window.document
        entries = self._new_images()
        if document is None or not entries:
            return "No image is marked new."
        labelled = sum(1 for e in entries if self._holds_labels(e))
        left = sum(1 for e in document.images if e.status in ("edited", "reviewed"))
        replace = self.mode_combo.currentData() == REPLACE
        text = f"{len(entries)} new image(s) get a proposal"
        if labelled:
            text += f"; {labelled} already hold labels and get it only where nothing is labelled"
        elif not replace:
            text += " where nothing is labelled"
        if left:
            text += f". {left} edited or reviewed image(s) are left alone"
        return text + "."

    # -- running ---------------------------------------------------------------------
    def _options(self) -> PredictOptions:
        tile = self.tile_spin.value()
        return PredictOptions(tile=tile, overlap=min(64, tile // 8), postprocess={
            "foreground_threshold": self.foreground_spin.value(),
            "seed_threshold": self.seed_spin.value(),
            "min_size": self.min_size_spin.value(),
        })

    def predict_current(self) -> None:
        entry = self.window.current_image()
        info = self.selected_model()
        if entry is None or info is None or self._job is not None:
            return
        task = PredictionTask(entry.id, entry.name, array=entry.image_layer.data)
        self._start([task], info, batch=False)

    def predict_new_images(self) -> None:
        info = self.selected_model()
        entries = self._new_images()
        if not entries or info is None or self._job is not None:
            return
        tasks = [PredictionTask(e.id, e.name, array=e.image_layer.data) if e.loaded
                 else PredictionTask(e.id, e.name, path=e.source.path, page=e.source.page) for e in entries]
        self._batch_failures, self._batch_applied, self._batch_skipped = [], 0, []
        plan = self.batch_plan()
        if self.project is not None:
            self._batch_record = (self.project, records.start_job(
                self.project.connection, "presegment", [catalogue.model_reference(info), *[e.name for e in entries]]))
        self._start(tasks, info, batch=True)
        self.progress_label.setText(f"Pre-segmenting with {info.name}: {plan}")

    def _start(self, tasks: list[PredictionTask], info, batch: bool) -> None:
        self.discard()
        self._batch = batch
        self._cancel_requested = False
        # Statuses name the model as the panel lists it (a version's name, which an imported
        # folder's card may not share), fixed now: the combo may change while the job runs.
        self._job_model = info.name
        self._job = Job(predict_images, catalogue.model_reference(info), tasks, self._options(),
                        self._result_ready.emit, "auto", default_threads(leave_one_for_gui=True), name="pre-segment")
        self._job.progress.connect(self._on_progress)
        self._job.succeeded.connect(lambda results: self._on_done("done", ""))
        self._job.failed.connect(lambda error: self._on_done("failed", str(error)))
        self._job.cancelled.connect(lambda: self._on_done("cancelled", ""))
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setRange(0, 0)
        self.progress_label.setText(f"Pre-segmenting with {info.name}…")
        self._job.start()
        self._update_enabled()

    def cancel(self) -> None:
        if self._job is not None:
            self._cancel_requested = True  # results still queued are dropped, not applied
            self._job.cancel()
            self.progress_label.setText("Cancelling…")

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        self.progress_label.setText(text)

    def _on_result(self, result: PredictionResult) -> None:
        document = self.window.document
        entry = document.image_by_id(result.key) if document is not None else None
        if entry is None or self._cancel_requested:  # removed, or another project opened, or cancelled
            return
        if result.error is not None:
            self._batch_failures.append(f"{result.name}: {result.error}")
            return
        document.model_maps.put(entry.id, result.probability)  # click-to-add reads it
        if not self._batch:
            self._proposal = (entry.id, result.labels, self._job_model)
            self._proposal_scores = dict(result.scores)
            self._show_proposal()
            return
        if entry.status != "new":  # a person started on it while the batch ran
            self._batch_skipped.append(result.name)
            return
        try:
            preferred = self.window.current_layer() if entry is self.window.current_image() else None
            layer = target_layer(entry, preferred)
            mode, proposal = batch_proposal(entry, result.labels)
            if mode == REPLACE:
                mode = self.mode_combo.currentData()
            command = accept_proposal(document, entry, proposal, mode, self._job_model, layer,
                                      scores=result.scores)
            self._record_accepted(entry, command.layer)
            self._batch_applied += 1
        except Exception as error:  # noqa: BLE001 - e.g. a locked layer: report, go on
            self._batch_failures.append(f"{result.name}: {error}")

    def _on_done(self, outcome: str, message: str) -> None:
        self._job = None
        if self._cancel_requested and outcome == "done":
            # The worker finished before it saw the cancel; its queued results were dropped,
            # so for the user the run was cancelled.
            outcome = "cancelled"
        failures = self._batch_failures
        if self._batch:
            summary = f"Pre-segmented {self._batch_applied} image(s)"
            if self._batch_skipped:
                summary += (f"; left {len(self._batch_skipped)} alone that were edited meanwhile "
                            f"({', '.join(self._batch_skipped[:5])})")
            if outcome == "cancelled":
                summary += "; cancelled"
            project, job_id = self._batch_record or (None, None)
            # Only the project that started the job: another one may be open by now.
            if job_id is not None and project is self.project:
                status = {"done": "done", "cancelled": "cancelled"}.get(outcome, "failed")
                records.finish_job(project.connection, job_id, status,
                                   {"applied": self._batch_applied, "failed": failures}, message or None)
            self._batch_record = None
        else:
            summary = {"done": "", "cancelled": "Cancelled."}.get(outcome, "")
        if outcome == "failed":
            summary = f"Failed: {message}"
        if failures:
            summary += f"\n{len(failures)} failed:\n" + "\n".join(failures)
        self._batch_failures = []
        self._show_idle(summary.strip())

    def _show_idle(self, text: str = "") -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)  # an idle "0%" reads like a stalled job
        self.progress_label.setText(text)
        self._show_proposal()

    # -- proposal --------------------------------------------------------------------
    def _show_proposal(self) -> None:
        labels = self._proposal[1] if self._proposal is not None else None
        set_proposal = getattr(self.window.canvas, "set_proposal", None)
        if set_proposal is not None:
            try:
                set_proposal(labels)
            except ValueError:  # the canvas shows another image than the proposal's
                pass
        if self._proposal is None:
            self.proposal_label.setText("Pre-segment an image to see the model's proposal over it.")
        else:
            count = int(len(np.unique(labels)) - (1 if (labels == 0).any() else 0))
            self.proposal_label.setText(f"{count} objects proposed by {self._proposal[2]} (outlined). "
                                        "Accept puts them into the label layer as one undo step.")
        self._update_enabled()

    def accept(self) -> None:
        entry = self.window.current_image()
        if self._proposal is None or entry is None or entry.id != self._proposal[0]:
            return
        _, labels, model = self._proposal
        try:
            command = accept_proposal(self.window.document, entry, labels, self.mode_combo.currentData(), model,
                                      target_layer(entry, self.window.current_layer()),
                                      scores=self._proposal_scores)
        except PermissionError as error:
            self.progress_label.setText(str(error))
            return
        self._record_accepted(entry, command.layer)
        self._proposal = None
        self._show_proposal()

    def _record_accepted(self, entry, layer) -> None:
        """Note in the catalogue that these labels are a model's, so that until a person changes
        them the image never judges a model (seggui.core.validation_set)."""
        if self.project is None:
            return
        from seggui.core import validation_set

        try:
            validation_set.record_in_project(self.project.folder, entry.id, layer.data)
        except Exception as error:  # noqa: BLE001 - e.g. a read-only catalogue; the image stays excluded
            self.progress_label.setText(f"Could not note the accepted proposal in the catalogue ({error}); "
                                        "this image will not be used to validate models.")

    def discard(self) -> None:
        self._proposal = None
        self._show_proposal()

    def _update_enabled(self) -> None:
        running = self._job is not None
        info = self.selected_model()
        usable = info is not None and info.available
        has_image = self.window.current_image() is not None
        self.predict_button.setEnabled(usable and has_image and not running)
        new_count = len(self._new_images())
        self.batch_button.setText(f"Pre-segment all new images ({new_count})")
        self.batch_button.setStatusTip(self.batch_plan())
        self.batch_button.setEnabled(usable and new_count > 0 and not running)
        self.cancel_button.setEnabled(running)
        has_proposal = self._proposal is not None
        self.accept_button.setEnabled(has_proposal and not running)
        self.discard_button.setEnabled(has_proposal)
        self.add_version_button.setEnabled(self.project is not None)
        self.weights_button.setVisible(info is not None and not info.available and info.source == "torchvision-cache")
        has_project = self.project is not None
        self.activate_button.setEnabled(has_project and self.versions_list.currentItem() is not None)
        self.deactivate_button.setEnabled(has_project and catalogue.active_version(self.project) is not None)

