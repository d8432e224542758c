"""The Model dock: choose a model, set its options, pre-segment, accept the proposal, pick
the project's active fine-tuned version.

Prediction runs as a `Job` off the GUI thread. A single image's result becomes a proposal
drawn over the image (canvas.set_proposal) until the user accepts or discards it; a batch
("all new images") accepts each result as its own undo step as it arrives and goes on past
images that fail.

The panel lays out its parts and runs the prediction; the parts bind one thing each: the
model choice and the project's versions (seggui.ui.model_chooser), the options
(seggui.ui.prediction_options), the progress row (seggui.ui.run_progress) and the proposal
(seggui.ui.proposal_box); and, without Qt, the proposal and the run's bookkeeping
(seggui.core.prediction_run) and the batch's plan (seggui.core.batch_plan).

    from seggui.ui.model_docks import install_model_docks
    model_panel, training_dock = install_model_docks(window)
"""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QPushButton, QScrollArea, QVBoxLayout, QWidget

from seggui.core.batch_plan import BatchPlan
from seggui.core.prediction_run import PredictionRun, Proposal
from seggui.core.proposals import (FILL_EMPTY, REPLACE, accept_proposal, batch_proposal,
                                   cells_a_replace_discards, target_layer)
from seggui.core.running_job import RunningJob
from seggui.jobs.prediction import PredictionResult, PredictionTask, predict_images
from seggui.jobs.worker import Job
from seggui.ml.inference import default_threads
from seggui.ui import model_catalogue as catalogue
from seggui.ui.canvas import Canvas
from seggui.ui.model_chooser import ModelChooser
from seggui.ui.prediction_options import PredictionOptionsBox
from seggui.ui.proposal_box import ProposalBox
from seggui.ui.run_progress import RunProgress


class ModelPanel(QWidget):
    versions_changed = Signal()  # a version was added or made active
    # Worker thread -> GUI thread: Qt queues signals emitted from another thread.
    _result_ready = Signal(object)

    def __init__(self, window, parent: QWidget | None = None):
        super().__init__(parent)
        self.window = window
        self._job: Job | None = None  # the running prediction job
        # The last run's bookkeeping; it outlives its job so that nothing it reads is gone
        # while its last queued signals are delivered.
        self._run: PredictionRun | None = None
        self._proposal: Proposal | None = None
        self._plan = BatchPlan()
        self._document = None
        self._result_ready.connect(self._on_result)
        self._build()
        window.document_changed.connect(self._on_document_changed)
        window.current_image_changed.connect(self._on_image_changed)
        self._on_document_changed(window.document)

    # -- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.chooser = ModelChooser(self.window, self)
        self.chooser.model_selected.connect(self._on_model_selected)
        self.chooser.versions_changed.connect(self.versions_changed)
        layout.addWidget(self.chooser)
        self.options_box = PredictionOptionsBox(self)
        layout.addWidget(self.options_box)

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

        self.run_progress = RunProgress(self)
        self.run_progress.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(self.run_progress)
        self.proposal_box = ProposalBox(self)
        self.proposal_box.accept_button.clicked.connect(self.accept)
        self.proposal_box.discard_button.clicked.connect(self.discard)
        layout.addWidget(self.proposal_box)
        layout.addWidget(self.chooser.versions_box)  # the chooser's part, kept at the panel's bottom
        layout.addStretch(1)

        # The parts under the panel's own names, which the window, the tests and scripts use.
        chooser, options = self.chooser, self.options_box
        self.model_combo, self.refresh_button = chooser.model_combo, chooser.refresh_button
        self.choice_label, self.details = chooser.choice_label, chooser.details
        self.weights_button = chooser.weights_button
        self.versions_list, self.add_version_button = chooser.versions_list, chooser.add_version_button
        self.activate_button, self.deactivate_button = chooser.activate_button, chooser.deactivate_button
        self.tile_spin, self.min_size_spin = options.tile_spin, options.min_size_spin
        self.foreground_spin, self.seed_spin = options.foreground_spin, options.seed_spin
        self.mode_combo = options.mode_combo
        self.progress_bar, self.cancel_button = self.run_progress.bar, self.run_progress.cancel_button
        self.progress_label = self.run_progress.label
        self.proposal_label = self.proposal_box.label
        self.accept_button, self.discard_button = self.proposal_box.accept_button, self.proposal_box.discard_button
        self._show_idle()

    # -- state -----------------------------------------------------------------------
    @property
    def project(self):
        return self.window.project

    @property
    def models(self) -> list:
        """The models listed in the combo (seggui.ml.registry.ModelInfo), in its order."""
        return self.chooser.models

    @property
    def running(self) -> bool:
        """Whether a pre-segmentation job runs."""
        return self._job is not None

    @property
    def running_batch(self) -> bool:
        """Whether the running job is a batch (all new images) rather than one image."""
        return self._job is not None and self._run is not None and self._run.batch

    @property
    def proposal(self) -> Proposal | None:
        """The proposal waiting for Accept or Discard."""
        return self._proposal

    # -- models (seggui.ui.model_chooser) --------------------------------------------
    def selected_model(self):
        return self.chooser.selected_model()

    def default_model(self):
        return self.chooser.default_model()

    def refresh_models(self, select: str | None = None, reset: bool = False) -> None:
        self.chooser.refresh_models(select=select, reset=reset)

    def active_model_name(self) -> str:
        return self.chooser.active_model_name()

    def activate_selected_version(self) -> None:
        self.chooser.activate_selected_version()

    def set_active_version(self, version_id: str | None) -> None:
        self.chooser.set_active_version(version_id)

    def show_active_model(self) -> None:
        self.chooser.show_active_model()

    def choose_weights_file(self, file: str | None = None) -> bool:
        return self.chooser.choose_weights_file(file)

    def add_model_folder(self, folder: str | None = None) -> bool:
        return self.chooser.add_model_folder(folder)

    def _on_model_selected(self, info) -> None:
        if info is not None:
            self.options_box.apply_card(info)
        self._update_enabled()

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
        if self._proposal is not None and (entry is None or entry.id != self._proposal.image_id):
            self._proposal = None  # the canvas drops the overlay when it shows another image
        self._show_proposal()

    def batch_plan(self) -> str:
        """What "Pre-segment all new images" will do, said before it starts."""
        return self._plan.describe(self.window.document, self.options_box.mode == REPLACE)

    # -- running ---------------------------------------------------------------------
    def predict_current(self) -> None:
        entry = self.window.current_image()
        info = self.selected_model()
        if entry is None or info is None or self.running:
            return
        task = PredictionTask(entry.id, entry.name, array=entry.image_layer.data)
        self._start([task], info, PredictionRun(info.name))

    def predict_new_images(self) -> None:
        info = self.selected_model()
        entries = self._plan.new_images(self.window.document)
        if not entries or info is None or self.running:
            return
        tasks = [PredictionTask(e.id, e.name, array=e.image_layer.data) if e.loaded
                 else PredictionTask(e.id, e.name, path=e.source.path, page=e.source.page) for e in entries]
        plan = self.batch_plan()
        job = None
        if self.project is not None:
            job = RunningJob.start(self.project, "presegment",
                                   [catalogue.model_reference(info), *[e.name for e in entries]])
        self._start(tasks, info, PredictionRun(info.name, batch=True, job=job))
        self.progress_label.setText(f"Pre-segmenting with {info.name}: {plan}")

    def _start(self, tasks: list[PredictionTask], info, run: PredictionRun) -> None:
        self.discard()
        # Statuses name the model as the panel lists it (a version's name, which an imported
        # folder's card may not share), fixed in the run: the combo may change while it runs.
        self._run = run
        self._job = Job(predict_images, catalogue.model_reference(info), tasks, self.options_box.options(),
                        self._result_ready.emit, "auto", default_threads(leave_one_for_gui=True), name="pre-segment")
        self._job.progress.connect(self.run_progress.progress)
        self._job.succeeded.connect(lambda results: self._on_done("done", ""))
        self._job.failed.connect(lambda error: self._on_done("failed", str(error)))
        self._job.cancelled.connect(lambda: self._on_done("cancelled", ""))
        self.run_progress.busy(f"Pre-segmenting with {info.name}…")
        self._job.start()
        self._update_enabled()

    def cancel(self) -> None:
        if self._job is not None:
            self._run.cancel_requested = True  # results still queued are dropped, not applied
            self._job.cancel()
            self.progress_label.setText("Cancelling…")

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Cancel the running job and wait until it ended and its outcome was recorded (the
        project is about to close); returns whether it ended in time."""
        job = self._job
        if job is None:
            return True
        self.cancel()
        ended = job.wait_done(timeout_s)
        deadline = time.monotonic() + 5.0
        while self._job is job and time.monotonic() < deadline:
            QCoreApplication.processEvents()  # deliver the job's queued end (_on_done records it)
            time.sleep(0.01)
        return ended and self._job is not job

    def _on_result(self, result: PredictionResult) -> None:
        run, document = self._run, self.window.document
        entry = document.image_by_id(result.key) if document is not None else None
        if entry is None or run is None or run.cancel_requested:  # removed, another project opened, cancelled
            return
        if result.error is not None:
            run.failures.append(f"{result.name}: {result.error}")
            return
        document.model_maps.put(entry.id, result.probability)  # click-to-add reads it
        if not run.batch:
            self._proposal = Proposal(entry.id, result.labels, run.model, dict(result.scores))
            self._show_proposal()
            return
        if entry.status != "new":  # a person started on it while the batch ran
            run.skipped.append(result.name)
            return
        try:
            preferred = self.window.current_layer() if entry is self.window.current_image() else None
            layer = target_layer(entry, preferred)
            mode, labels = batch_proposal(entry, result.labels)
            if mode == REPLACE:
                mode = self.options_box.mode
            command = accept_proposal(document, entry, labels, mode, run.model, layer, scores=result.scores)
            self._record_accepted(entry, command.layer)
            run.applied += 1
        except Exception as error:  # noqa: BLE001 - e.g. a locked layer: report, go on
            run.failures.append(f"{result.name}: {error}")

    def _on_done(self, outcome: str, message: str) -> None:
        run, self._job = self._run, None
        outcome = run.outcome(outcome)
        run.finish(self.project, outcome, message)
        self._show_idle(run.summary(outcome, message))

    def _show_idle(self, text: str = "") -> None:
        self.run_progress.idle(text)
        self._show_proposal()

    # -- proposal --------------------------------------------------------------------
    def _show_proposal(self) -> None:
        proposal = self._proposal
        canvas = self.window.canvas
        if isinstance(canvas, Canvas):  # not the placeholder shown while no project is open
            try:
                canvas.set_proposal(proposal.labels if proposal is not None else None)
            except ValueError:  # the canvas shows another image than the proposal's
                pass
        self.proposal_box.show_proposal(proposal)
        self._update_enabled()
        if proposal is not None:
            self._bring_proposal_into_view()

    def _bring_proposal_into_view(self) -> None:
        """On a short screen the Proposal box sits below the dock's fold: a person who just
        pre-segmented would not see where to accept. Scroll the dock to it."""
        widget = self.parentWidget()
        while widget is not None and not isinstance(widget, QScrollArea):
            widget = widget.parentWidget()
        if widget is not None:
            # After the box's new text is laid out, or the scroll aims at its old place.
            QTimer.singleShot(0, lambda: widget.ensureWidgetVisible(self.proposal_box))

    def accept(self) -> None:
        entry, proposal = self.window.current_image(), self._proposal
        if proposal is None or entry is None or entry.id != proposal.image_id:
            return
        layer, mode = target_layer(entry, self.window.current_layer()), self.options_box.mode
        at_stake = cells_a_replace_discards(entry, layer) if mode == REPLACE else 0
        if at_stake:
            mode = self.ask_replace(layer.name, at_stake, proposal.count)
            if mode is None:
                return
        try:
            command = accept_proposal(self.window.document, entry, proposal.labels, mode,
                                      proposal.model, layer, scores=proposal.scores)
        except PermissionError as error:
            self.progress_label.setText(str(error))
            return
        self._record_accepted(entry, command.layer)
        self._proposal = None
        self._show_proposal()

    def ask_replace(self, layer_name: str, cells: int, proposed: int) -> str | None:
        """Accept as Replace would drop cells a person made, imported or verified: ask first.
        Returns the mode to accept in (FILL_EMPTY, REPLACE) or None (cancelled)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Accept the proposal",
                          f"'{layer_name}' already holds {cells} cell(s) that were painted, imported or "
                          f"verified. Replace them with the {proposed} proposed cell(s), or keep them and "
                          "add proposed cells only where nothing is labelled?", parent=self)
        keep = box.addButton("Keep them, fill the rest", QMessageBox.ButtonRole.AcceptRole)
        replace = box.addButton("Replace them", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.exec()
        return FILL_EMPTY if box.clickedButton() is keep else REPLACE if box.clickedButton() is replace else None

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
        running = self.running
        info = self.selected_model()
        usable = info is not None and info.available
        has_image = self.window.current_image() is not None
        self.predict_button.setEnabled(usable and has_image and not running)
        new_count = len(self._plan.new_images(self.window.document))
        self.batch_button.setText(f"Pre-segment all new images ({new_count})")
        self.batch_button.setStatusTip(self.batch_plan())
        self.batch_button.setEnabled(usable and new_count > 0 and not running)
        self.cancel_button.setEnabled(running)
        self.proposal_box.update_enabled(self._proposal is not None, running)
        self.chooser.update_enabled()
