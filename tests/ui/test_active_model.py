"""One active model: the Model dock's choice, the versions list, the status bar and every
pre-segmentation follow the project's active version; training never changes it (unless the
explicit "make active if it beats the base" box is ticked and validation shows a real gain)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seggui.core.training_set import TrainingMaterial
from PySide6.QtCore import QObject, QTimer, Signal

from seggui.core import records, validation_set
from seggui.core.project import Project
from seggui.ui import model_panel as model_panel_module
from seggui.ui import training_dock as training_dock_module
from seggui.ui.main_window import MainWindow
from seggui.ui.model_docks import install_model_docks

from test_model_panel import make_project, predict_current, select  # noqa: E402 - tests/ui is on sys.path


def add_version(project, name: str, card_name: str | None = None, validation: dict | None = None,
                active: bool = False) -> records.ModelVersion:
    """A project version that loads without weights (kind classic), its card named `card_name`."""
    folder = project.folder / "models" / name
    folder.mkdir(parents=True)
    card = {"format": 1, "name": card_name or name, "kind": "classic"}
    if validation is not None:
        card["validation"] = validation
    (folder / "card.json").write_text(json.dumps(card))
    version = records.add_model_version(project.connection, name, f"models/{name}", card)
    if active:
        records.set_active_model(project.connection, version.id)
    return version


@pytest.fixture
def project_with_active_version(tmp_path) -> Path:
    folder = make_project(tmp_path)
    project, _ = Project.open(folder)
    add_version(project, "v1", card_name="a card named otherwise", active=True)
    add_version(project, "v2")
    project.close()
    return folder


@pytest.fixture
def window(qtbot):
    window = MainWindow(autosave_delay_ms=60_000)
    qtbot.addWidget(window)
    window.panel, window.dock = install_model_docks(window)  # before any project: as at start-up
    window.show()
    yield window
    if window.dock.is_running:
        window.dock.process.cancel()
    if window.document is not None:
        window.document.mark_clean()


def assert_shows_active(window, name: str) -> None:
    panel = window.panel
    assert panel.selected_model().name == name and panel.selected_model().source == "project"
    assert not panel.choice_label.text()
    assert window.status.model_label.text() == f"model: {name}"
    active_rows = [i for i in range(panel.versions_list.count())
                   if panel.versions_list.item(i).text().startswith("● active")]
    assert len(active_rows) == 1
    item = panel.versions_list.item(active_rows[0])
    assert item.text().startswith(f"● active  {name}") and item.font().bold()


def test_opening_a_project_shows_its_active_version_everywhere(window, project_with_active_version, tmp_path):
    assert window.panel.selected_model().name == "nuclei"  # no project yet: the bundled default
    assert window.files.open_project(project_with_active_version)
    assert_shows_active(window, "v1")

    # Reopening (another project, then this one again) shows it again, not a leftover choice.
    select(window.panel, "classic")
    (tmp_path / "other").mkdir()
    other = make_project(tmp_path / "other")
    assert window.files.open_project(other)
    assert window.panel.selected_model().name == "nuclei"
    assert window.status.model_label.text() == "model: nuclei (bundled)"
    assert window.files.open_project(project_with_active_version)
    assert_shows_active(window, "v1")


def test_choosing_another_model_is_visible_and_never_changes_the_active_one(window, project_with_active_version):
    window.files.open_project(project_with_active_version)
    select(window.panel, "v2")
    assert "Not the active model" in window.panel.choice_label.text()
    assert window.panel.choice_label.isVisibleTo(window.panel)
    assert "this session: v2" in window.status.model_label.text()
    assert [v.name for v in records.model_versions(window.project.connection) if v.active] == ["v1"]


def test_presegmentation_uses_the_active_version_and_names_it(window, project_with_active_version, qtbot,
                                                            monkeypatch):
    window.files.open_project(project_with_active_version)
    references = []
    real_job = model_panel_module.Job

    def spy(function, model, *args, **kwargs):
        references.append(model)
        return real_job(function, model, *args, **kwargs)

    monkeypatch.setattr(model_panel_module, "Job", spy)
    v1_folder = str(window.project.folder / "models" / "v1")
    panel = window.panel
    predict_current(qtbot, panel)
    assert references == [v1_folder]
    panel.accept()
    entry = window.current_image()
    # The version's name as listed, not its card's: the status names the model that proposed it.
    assert entry.status == "predicted" and entry.status_model == "v1"
    digests = validation_set.accepted_proposals(window.project.connection)
    assert digests[entry.id] == [validation_set.labels_digest(entry.label_layers[0].data)]

    panel.predict_new_images()
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert references[-1] == v1_folder
    assert {e.status_model for e in window.document.images} == {"v1"}


class FakeTrainingProcess(QObject):
    """Stands in for the child: writes the card a real run would, then reports done."""

    started = Signal()
    event = Signal(dict)
    log = Signal(str)
    finished = Signal(str, str)
    validation: dict = {}

    def __init__(self, parent=None):
        super().__init__(parent)
        self.outcome = None
        self.program = ["python", "-m", "seggui"]
        self.command = ["python", "-m", "seggui", "train"]

    def start(self, arguments):
        out = Path(arguments[arguments.index("--out") + 1])
        out.mkdir(parents=True)
        (out / "card.json").write_text(json.dumps({"format": 1, "name": out.name, "kind": "classic",
                                                   "validation": self.validation}))
        QTimer.singleShot(0, self._finish)

    def _finish(self):
        self.outcome = "done"
        self.finished.emit("done", "trained")

    def cancel(self):
        pass

    def log_tail(self, lines):
        return ""


BETTER = {"measured": True, "base": {"val_ap50": 0.40, "val_dice": 0.5}, "trained": {"val_ap50": 0.60, "val_dice": 0.7}}
NOISE = {"measured": True, "base": {"val_ap50": 0.600, "val_dice": 0.5}, "trained": {"val_ap50": 0.605, "val_dice": 0.6}}
NOT_MEASURED = {"measured": False, "base": None, "trained": None, "reason": "no validation image",
                "selection": {"base": {"val_ap50": 0.977}, "trained": {"val_ap50": 0.5}}}


def finish_fake_run(window, qtbot, monkeypatch, validation: dict) -> tuple[str, str]:
    monkeypatch.setattr(FakeTrainingProcess, "validation", validation)
    monkeypatch.setattr(training_dock_module, "TrainingProcess", FakeTrainingProcess)
    monkeypatch.setattr(window.dock, "material", lambda: TrainingMaterial(1, 0, 0))
    qtbot.wait(1100)  # run folders are named to the second
    with qtbot.waitSignal(window.dock.job_finished, timeout=10_000) as finished:
        assert window.dock.start()
    return finished.args


@pytest.mark.parametrize("session_choice", [None, "classic"])
def test_a_finished_training_run_changes_neither_the_active_model_nor_the_choice(
        window, project_with_active_version, qtbot, monkeypatch, session_choice):
    window.files.open_project(project_with_active_version)
    if session_choice:
        select(window.panel, session_choice)
    before = window.panel.selected_model().name, window.status.model_label.text()
    outcome, text = finish_fake_run(window, qtbot, monkeypatch, BETTER)  # better, but the box is off
    assert outcome == "done"
    versions = records.model_versions(window.project.connection)
    assert len(versions) == 3 and [v.name for v in versions if v.active] == ["v1"]
    assert (window.panel.selected_model().name, window.status.model_label.text()) == before
    assert "v1 stays active" in text
    assert window.panel.versions_list.count() == 3


def test_make_active_if_better_activates_only_on_a_real_measured_gain(window, project_with_active_version,
                                                                     qtbot, monkeypatch):
    window.files.open_project(project_with_active_version)
    window.dock.activate_check.setChecked(True)
    for validation, why in ((NOISE, "does not beat the base"), (NOT_MEASURED, "not measured")):
        _, text = finish_fake_run(window, qtbot, monkeypatch, validation)
        assert why in text and "v1 stays active" in text and why in window.dock.log_view.toPlainText()
        assert [v.name for v in records.model_versions(window.project.connection) if v.active] == ["v1"]
        assert_shows_active(window, "v1")
    # The unmeasured version says so, and never "scores lower".
    unmeasured = window.panel.models[-1]
    select(window.panel, unmeasured.name)
    assert "not measured" in window.panel.details.text() and "lower" not in window.panel.details.text()
    select(window.panel, "v1")

    _, text = finish_fake_run(window, qtbot, monkeypatch, BETTER)
    new = records.model_versions(window.project.connection)[-1]
    assert new.active and "Made active" in text
    assert_shows_active(window, new.name)


def test_an_active_version_that_cannot_load_is_named_with_what_is_used_instead(window, project_with_active_version):
    import shutil

    shutil.rmtree(project_with_active_version / "models" / "v1")
    window.files.open_project(project_with_active_version)
    assert window.panel.selected_model().name == "nuclei"
    assert window.status.model_label.text() == "model: v1 (unavailable; using nuclei)"
