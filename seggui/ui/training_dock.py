"""The Training dock: fine-tune a model on the project's reviewed images in a child process.

One button starts; progress, ETA, live curves and the log show while the window stays
usable. A finished run becomes a new project model version, not active until the user makes
it so in the Model panel, or until the explicit "Make active if it beats the base" box (off by
default) sees a measured gain on the project's validation images; a failed or cancelled run
adds nothing and says why.
"""

from __future__ import annotations

import html
import shutil
import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QPushButton,
    QMessageBox, QSpinBox, QVBoxLayout, QWidget,
)
from superqt import QCollapsible

from seggui.core import records
from seggui.core.running_job import RunningJob
from seggui.core.stopped_runs import StoppedRun, stopped_runs
from seggui.core.training_set import TrainingMaterial, training_material
from seggui.jobs.training_process import TrainingProcess, train_arguments
from seggui.ui import model_catalogue as catalogue
from seggui.ui.training_plot import TrainingPlot

DEFAULT_MINUTES = 3.0  # a few minutes on a laptop CPU already helps a fine-tuned base model
OUTCOME_TEXT = {"done": "Finished", "cancelled": "Cancelled", "failed": "Failed"}


def duration_text(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class TrainingDock(QWidget):
    version_added = Signal(str)  # folder of the new model version
    version_activated = Signal(str)  # folder of a new version made active by the opt-in box
    job_finished = Signal(str, str)  # outcome (done, cancelled, failed), message

    def __init__(self, window, data_arguments: list[str] | None = None, extra_arguments: list[str] = (),
                 parent: QWidget | None = None):
        """`data_arguments` replaces ["--project", folder] (tests, or training on a folder of
        images and masks); `extra_arguments` are appended to the training command."""
        super().__init__(parent)
        self.window = window
        self.data_arguments = data_arguments
        self.extra_arguments = list(extra_arguments)
        self.process: TrainingProcess | None = None
        self._run: RunningJob | None = None  # the running job: its project, record, version name, out folder
        self._bases: list = []
        self._document = None
        self._minutes_left: float | None = None  # from the running job's last epoch
        self._stopped: list[StoppedRun] = []
        self._build()
        window.document_changed.connect(self._on_document_changed)
        self._on_document_changed(window.document)

    # -- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.base_combo = QComboBox(self)
        self.base_combo.setToolTip("The model to fine-tune; from scratch needs many more images and minutes")
        form.addRow("Base model", self.base_combo)
        self.minutes_spin = QDoubleSpinBox(self)
        self.minutes_spin.setRange(0.1, 24 * 60)
        self.minutes_spin.setDecimals(1)
        self.minutes_spin.setValue(DEFAULT_MINUTES)
        self.minutes_spin.setSuffix(" min")
        self.minutes_spin.setToolTip("Training stops after this time and keeps its best epoch")
        form.addRow("Time budget", self.minutes_spin)
        self.images_label = QLabel(self)
        self.images_label.setWordWrap(True)
        form.addRow("Images", self.images_label)
        layout.addLayout(form)
        self.activate_check = QCheckBox("Make active if it beats the base", self)
        self.activate_check.setToolTip(
            "Off: the new version is only listed; you make it active in the Model panel.\n"
            f"On: it becomes active when its validation AP50 beats the base's by more than "
            f"{catalogue.BEATS_MARGIN:.2f} on the project's validation images (never when not measured).")
        layout.addWidget(self.activate_check)

        self.advanced = QCollapsible("Advanced options", self)
        advanced_widget = QWidget(self)
        advanced_form = QFormLayout(advanced_widget)
        self.seed_spin = QSpinBox(advanced_widget)
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("Same seed, images and settings: same model")
        advanced_form.addRow("Seed", self.seed_spin)
        self.device_combo = QComboBox(advanced_widget)
        self.device_combo.addItems(["auto", "cpu", "cuda", "mps"])
        self.device_combo.setToolTip("auto uses a GPU when there is one")
        advanced_form.addRow("Device", self.device_combo)
        self.learning_rate_spin = QDoubleSpinBox(advanced_widget)
        self.learning_rate_spin.setDecimals(5)
        self.learning_rate_spin.setRange(0.0, 0.1)
        self.learning_rate_spin.setSingleStep(0.0001)
        self.learning_rate_spin.setSpecialValueText("automatic")
        self.learning_rate_spin.setToolTip("automatic: 0.002 (the recipe of seggui train)")
        advanced_form.addRow("Learning rate", self.learning_rate_spin)
        self.crop_spin = QSpinBox(advanced_widget)
        self.crop_spin.setRange(0, 1024)
        self.crop_spin.setSingleStep(32)
        self.crop_spin.setValue(0)
        self.crop_spin.setSpecialValueText("automatic")
        self.crop_spin.setSuffix(" px")
        self.crop_spin.setToolTip("Side of the training crops; automatic: 160 px when fine-tuning (more steps in "
                                  "the minutes), 256 px from scratch. Larger sees more context, needs more memory")
        advanced_form.addRow("Crop size", self.crop_spin)
        self.advanced.addWidget(advanced_widget)
        layout.addWidget(self.advanced)

        row = QHBoxLayout()
        self.start_button = QPushButton("Start training", self)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.start_button, 1)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        # A run cancelled (or cut short by closing its project) keeps its checkpoint: it can go on.
        self.stopped_widget = QWidget(self)
        stopped_layout = QVBoxLayout(self.stopped_widget)
        stopped_layout.setContentsMargins(0, 0, 0, 0)
        stopped_row = QHBoxLayout()
        self.stopped_label = QLabel(self.stopped_widget)
        self.stopped_label.setWordWrap(True)
        self.continue_button = QPushButton("Continue", self.stopped_widget)
        self.continue_button.setToolTip("Train on from the stopped run's last epoch until its time budget is spent")
        self.continue_button.clicked.connect(self.continue_stopped)
        self.discard_button = QPushButton("Discard", self.stopped_widget)
        self.discard_button.setToolTip("Delete the stopped run's folder (its checkpoint and best weights so far)")
        self.discard_button.clicked.connect(self.discard_stopped)
        stopped_layout.addWidget(self.stopped_label)
        stopped_row.addStretch(1)
        stopped_row.addWidget(self.continue_button)
        stopped_row.addWidget(self.discard_button)
        stopped_layout.addLayout(stopped_row)
        self.stopped_widget.hide()
        layout.addWidget(self.stopped_widget)
        self.progress_bar = QProgressBar(self)
        layout.addWidget(self.progress_bar)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.plot = TrainingPlot(self)
        layout.addWidget(self.plot, 2)
        self.log_view = QPlainTextEdit(self)
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(1000)
        self.log_view.setPlaceholderText("The training log appears here.")
        layout.addWidget(self.log_view, 1)
        self._update_enabled()

    # -- state from the document -----------------------------------------------------
    @property
    def project(self):
        return self.window.project

    @property
    def bases(self) -> list:
        """The base models listed in the combo (before "None: train from scratch")."""
        return list(self._bases)

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.outcome is None

    def material(self) -> TrainingMaterial:
        """Reviewed images and verified cells a run would learn from (seggui.core.training_set)."""
        document = self.window.document
        return training_material(document.images if document is not None else [])

    def reviewed_count(self) -> int:
        return self.material().reviewed_images

    def _on_document_changed(self, document) -> None:
        # Any edit may verify a cell (review queue) or change one: the count follows.
        if self._document is not None:
            for signal in (self._document.status_changed, self._document.image_added, self._document.image_removed,
                           self._document.undo_stack.edited):
                signal.disconnect(self._on_images_changed)
        self._document = document
        if document is not None:
            for signal in (document.status_changed, document.image_added, document.image_removed,
                           document.undo_stack.edited):
                signal.connect(self._on_images_changed)
        if self.is_running:  # its project was closed: the run cannot become one of its versions
            self.cancel()
        self.refresh_models(reset=True)  # another project: fine-tune its active model by default
        self.refresh_stopped()

    def _on_images_changed(self, *args) -> None:
        self._update_enabled()

    def refresh_models(self, reset: bool = False) -> None:
        """List the base models: U-Nets that can load (project versions included), or none;
        keep the chosen base unless `reset` (then the active version, else `nuclei`)."""
        previous = None if reset else self.base_combo.currentData()
        models = catalogue.available_models(self.project)
        self._bases = [m for m in models if m.kind == "unet" and m.available]
        default = catalogue.default_model(self._bases, self.project)
        self.base_combo.clear()
        for info in self._bases:
            self.base_combo.addItem(f"{info.name}  [{info.source}]", catalogue.model_reference(info))
        self.base_combo.addItem("None: train from scratch", "")
        references = [catalogue.model_reference(m) for m in self._bases]
        if previous in references and not self.is_running:
            index = references.index(previous)
        elif default is not None:
            index = self._bases.index(default)
        else:
            index = len(self._bases)
        self.base_combo.setCurrentIndex(index)
        self._update_enabled()

    def _update_enabled(self) -> None:
        material = self.material()
        running = self.is_running
        if self.project is None:
            reason = "Open a project to train on its images."
        elif material.empty:
            reason = ("No reviewed images or verified cells yet: correct an image's labels and mark it "
                      "reviewed, or verify cells in the Review queue (V).")
        else:
            reason = ""
        self.images_label.setText(reason or material.describe())
        self.start_button.setEnabled(not running and not reason)
        self.start_button.setToolTip(reason or "Save the project and train in the background")
        self.cancel_button.setEnabled(running)
        for widget in (self.base_combo, self.minutes_spin, self.advanced, self.activate_check):
            widget.setEnabled(not running)
        self.continue_button.setEnabled(not running and not reason)
        self.continue_button.setToolTip(reason or "Train on from the stopped run's last epoch until its time "
                                                  "budget is spent")
        self.discard_button.setEnabled(not running)

    def refresh_stopped(self) -> None:
        """Show the most recently stopped run of the project that can continue, if any."""
        project = self.project
        try:
            self._stopped = stopped_runs(project.connection, project.folder) if project is not None else []
        except Exception:  # noqa: BLE001 - an unreadable catalogue offers nothing; opening reported it
            self._stopped = []
        if self._stopped:
            self.stopped_label.setText(f"Stopped run: {self._stopped[0].describe()}.")
        self.stopped_widget.setVisible(bool(self._stopped))
        self._update_enabled()

    # -- running ---------------------------------------------------------------------
    def start(self) -> bool:
        """Save the project, then start the training process; returns whether it started."""
        if self.is_running or self.project is None or self.material().empty:
            return False
        base = self.base_combo.currentData() or None
        base_name = Path(base).name if base else "scratch"
        name = f"{base_name}-ft-{datetime.now():%Y%m%d-%H%M%S}"
        out = Path(self.project.folder) / catalogue.MODELS_FOLDER / name
        return self._launch(name, out, base=base, minutes=self.minutes_spin.value(), seed=self.seed_spin.value(),
                            device=self.device_combo.currentText(),
                            learning_rate=self.learning_rate_spin.value() or None,
                            crop_size=self.crop_spin.value() or None)

    def continue_stopped(self) -> bool:
        """Continue the stopped run shown (its own options, this project's images, --resume)."""
        if self.is_running or not self._stopped or self.project is None or self.material().empty:
            return False
        run = self._stopped[0]
        options = run.options
        return self._launch(run.name, run.out, base=options["base"], minutes=run.minutes, seed=options["seed"],
                            device=options["device"], learning_rate=options["learning_rate"],
                            crop_size=options["crop_size"], resume=True)

    def discard_stopped(self) -> bool:
        """Delete the stopped run's folder after asking; returns whether it was deleted."""
        if self.is_running or not self._stopped or self.project is None:
            return False
        run = self._stopped[0]
        answer = QMessageBox.question(
            self, "Discard the stopped run",
            f"Delete {run.name} (its checkpoint and best weights so far) from the project's models folder?")
        if answer != QMessageBox.StandardButton.Yes:
            return False
        # Checked again now: the folder must still be a real folder directly in this project's models folder.
        again = {r.name: r for r in stopped_runs(self.project.connection, self.project.folder)}
        if run.name not in again:
            self.status_label.setText(f"{run.name} is no longer a stopped run; nothing was deleted.")
            self.refresh_stopped()
            return False
        try:
            shutil.rmtree(again[run.name].out)
        except OSError as error:
            self.status_label.setText(f"Could not delete {run.name}: {error.strerror or error}")
            self.refresh_stopped()
            return False
        self.status_label.setText(f"Deleted the stopped run {run.name}.")
        self.refresh_stopped()
        return True

    def _launch(self, name: str, out: Path, *, base: str | None, minutes: float, seed: int, device: str,
                learning_rate: float | None, crop_size: int | None, resume: bool = False) -> bool:
        project = self.project
        # The child reads reviewed images and masks from disk: they must be saved first.
        # MainWindow.autosave is None while no project (or no document) is open.
        autosave = self.window.autosave
        if autosave is not None and not autosave.save_blocking():
            self.status_label.setText("Cannot start: the project could not be saved. Fix that first.")
            return False
        if self.data_arguments is None:
            # Place newly reviewed images in the project's fixed validation set now, from this
            # process: the child then only reads the catalogue.
            from seggui.core import validation_set

            try:
                validation_set.update_validation_set(project.connection, project.folder)
            except Exception as error:  # noqa: BLE001 - a catalogue that cannot be written
                self.status_label.setText(f"Cannot start: the validation images could not be recorded ({error}).")
                return False
        data = self.data_arguments if self.data_arguments is not None else ["--project", str(project.folder)]
        arguments = train_arguments(
            out, data, base=base, minutes=minutes, seed=seed, device=device, learning_rate=learning_rate,
            crop_size=crop_size, name=name, extra=[*self.extra_arguments, *(["--resume"] if resume else [])])
        self.process = TrainingProcess(self)
        self.process.event.connect(self._on_event)
        self.process.log.connect(self.log_view.appendPlainText)
        self.process.finished.connect(self._on_finished)
        # The record keeps the whole command (the arguments too): a stopped run continues from it.
        self._run = RunningJob.start(project, "training", [*self.process.program[1:], *arguments], name=name, out=out)
        self._minutes_left = None
        self.plot.clear()
        self.log_view.clear()
        self.log_view.appendPlainText(" ".join(["seggui", *arguments[0:]]))
        self.progress_bar.setRange(0, 0)  # busy until the first epoch gives an ETA
        self.status_label.setText(f"{'Continuing' if resume else 'Starting'}: {name}…")
        self.stopped_widget.hide()
        self.process.start(arguments)
        self._update_enabled()
        return True

    def cancel(self) -> None:
        if self.is_running:
            self.status_label.setText("Cancelling: finishing the current step and keeping the checkpoint…")
            self.process.cancel()

    def stop(self) -> None:
        """Cancel a running training and wait until the child ended and its outcome was
        recorded (the project is about to close: no child may outlive it)."""
        if not self.is_running:
            return
        process = self.process
        self.cancel()
        if not process.wait(process.grace_ms):  # blocking: the kill timer cannot fire meanwhile
            process.kill()
            process.wait(5_000)

    def _on_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "start":
            self._run.started = time.monotonic()  # the child's start: the ETA counts from here
            if event.get("validation_measured") is False:
                validating = (f"picking the best epoch on {event.get('val_images')} of them; comparison "
                              f"with the base not measured: {event.get('validation_note')}")
            else:
                validating = f"validating on {event.get('val_images')}"
            scale = f"; {event['scale_note']}" if event.get("scale_note") else ""
            arithmetic = f", {event['precision']}" if event.get("precision") else ""
            self.status_label.setText(f"Training on {event.get('train_images')} images, {validating} "
                                      f"({event.get('device')}{arithmetic}){scale}…")
            self.log_view.appendPlainText(self.status_label.text())
        elif kind == "epoch":
            self.plot.add_epoch(event)
            elapsed = time.monotonic() - self._run.started
            remaining = float(event.get("eta_s") or 0.0)
            self._minutes_left = remaining / 60
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * elapsed / max(1e-6, elapsed + remaining)))
            ap = event.get("val_ap50")
            self.status_label.setText(
                f"Epoch {event.get('epoch')}: loss {event.get('loss', float('nan')):.3f}"
                + (f", validation AP50 {ap:.3f}" if ap is not None else "")
                + f" — about {duration_text(remaining)} left")

    def _on_finished(self, outcome: str, message: str) -> None:
        run, process = self._run, self.process
        self._run = None
        project = run.project
        same_project = project is self.project  # a closed project's catalogue cannot be written
        result = None
        text = f"{OUTCOME_TEXT[outcome]}: {message}"
        if outcome == "done" and same_project:
            try:
                from seggui.ml.cards import read_card

                card = read_card(run.out / "card.json")
                relative = f"{catalogue.MODELS_FOLDER}/{run.name}"
                version = records.add_model_version(project.connection, run.name, relative, card)
                result = {"version": run.name, "validation": card.get("validation")}
                metrics = html.unescape(catalogue.metrics_text(card).split("<br>")[0])
                advice, result["activated"] = self._activate_if_better(project, version, card)
                text = f"Finished: new version {run.name}. {metrics}\n{advice}"
            except Exception as error:  # noqa: BLE001 - a broken output is a failed job, not a crash
                outcome, text = "failed", f"Failed: the trained model could not be read ({error})"
        elif outcome == "cancelled":
            text = f"Cancelled; no new version was added. The active model is unchanged. ({message})"
            if self._minutes_left is not None:
                result = {"minutes_left": round(self._minutes_left, 2)}
        elif outcome == "failed":
            text = f"Failed; no new version was added. The active model is unchanged.\n{message}"
        run.finish(self.project, outcome, result, process.log_tail(30))
        self.refresh_stopped()
        if outcome == "cancelled" and any(stopped.name == run.name for stopped in self._stopped):
            text += "\nIts checkpoint is kept: Continue trains on from its last epoch."
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if outcome == "done" else 0)
        self.status_label.setText(text)
        self.log_view.appendPlainText(text)
        self._update_enabled()
        if outcome == "done" and result is not None:
            self.refresh_models()
            self.version_added.emit(str(run.out))
            if result.get("activated"):
                self.version_activated.emit(str(run.out))
        self.job_finished.emit(outcome, text)

    def _activate_if_better(self, project, version, card) -> tuple[str, bool]:
        """(what to tell the user, whether the version was made active). Training changes the
        active model only when the user ticked the box and validation shows a real gain."""
        active = catalogue.active_version(project)
        current = active.name if active is not None else f"{catalogue.DEFAULT_BASE} (bundled)"
        if not self.activate_check.isChecked():
            warning = catalogue.regression_warning(card)
            return (warning or f"{current} stays active; make the new version active in the Model panel "
                    "to pre-segment with it."), False
        if not catalogue.measured(card):
            return f"Not made active: its gain over the base was not measured. {current} stays active.", False
        if not catalogue.beats_base(card):
            return (f"Not made active: it does not beat the base by more than {catalogue.BEATS_MARGIN:.2f} "
                    f"AP50 on the validation images. {current} stays active."), False
        try:
            catalogue.activate_version(project, version.id)
        except Exception as error:  # noqa: BLE001 - e.g. weights that do not load
            return f"Not made active: {error}. {current} stays active.", False
        return f"Made active: it beats the base on the validation images (was {current}).", True
