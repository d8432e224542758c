"""The Model panel in a real main window: list, pre-segment with `classic`, accept, undo, batch."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from seggui.core import records
from seggui.core.document import Document
from seggui.core.paint import change_command
from seggui.core.project import Project
from seggui.ui.main_window import MainWindow
from seggui.ui.model_docks import install_model_docks
from seggui.core.proposals import FILL_EMPTY, REPLACE


def disks(seed: int, shape=(64, 80)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = np.full(shape, 30.0)
    for cy, cx in ((16, 16), (16, 56), (46, 36)):
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= 81] = 200
    return np.clip(image + rng.normal(0, 5, shape), 0, 255).astype(np.uint8)


def make_project(tmp_path: Path, count: int = 3) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    paths = []
    for index in range(count):
        path = folder / f"cells_{index}.png"
        cv2.imwrite(str(path), disks(index))
        paths.append(path)
    project = Project.create(tmp_path / "project")
    document = Document()
    project.add_images(document, paths)
    project.save(document)
    project.close()
    return tmp_path / "project"


@pytest.fixture
def setup(qtbot, tmp_path):
    window = MainWindow(autosave_delay_ms=60_000)
    qtbot.addWidget(window)
    window.files.open_project(make_project(tmp_path))
    panel, training = install_model_docks(window)
    window.show()
    yield window, panel
    if window.document is not None:
        window.document.mark_clean()  # no save prompt on close


def select(panel, name: str) -> None:
    names = [m.name for m in panel.models]
    panel.model_combo.setCurrentIndex(names.index(name))


def predict_current(qtbot, panel) -> None:
    qtbot.mouseClick(panel.predict_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running and panel.proposal is not None, timeout=20_000)


def test_lists_models_with_details_and_unavailable_reasons(setup):
    window, panel = setup
    names = [m.name for m in panel.models]
    assert "classic" in names
    select(panel, "classic")
    assert "No weights needed" in panel.details.text()
    unavailable = [i for i, m in enumerate(panel.models) if not m.available]
    if unavailable:  # torchvision architectures without their weights file say where to put it
        panel.model_combo.setCurrentIndex(unavailable[0])
        assert "Unavailable" in panel.details.text() and "put" in panel.details.text()
        assert not panel.predict_button.isEnabled()
    assert set(window.docks) >= {"Model", "Training"}


def test_presegment_shows_proposal_accept_is_one_undo_step(setup, qtbot):
    window, panel = setup
    select(panel, "classic")
    entry = window.current_image()
    layer = entry.label_layers[0]
    before = layer.data.copy()
    steps = len(window.document.undo_stack)
    predict_current(qtbot, panel)
    assert window.canvas.proposal is not None  # drawn over the image
    assert "3 objects" in panel.proposal_label.text()
    assert layer.data.max() == 0  # nothing changes before Accept
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData(REPLACE))
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert len(np.unique(layer.data)) == 4
    assert entry.status == "predicted" and entry.status_model == "classic"
    assert len(window.document.undo_stack) == steps + 1
    assert window.canvas.proposal is None
    window.document.undo_stack.undo()
    assert np.array_equal(layer.data, before)
    assert entry.status == "new" and entry.status_model is None
    window.document.undo_stack.redo()
    assert entry.status == "predicted" and layer.data.max() == 3


def test_fill_only_empty_keeps_existing_labels(setup, qtbot):
    window, panel = setup
    select(panel, "classic")
    layer = window.current_image().label_layers[0]
    # An existing, corrected object over a small part of the first disk.
    window.document.undo_stack.push(change_command(layer, (5, 5, 14, 14), np.full((9, 9), 9, np.uint16), "paint"),
                                    execute=True)
    predict_current(qtbot, panel)
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData(FILL_EMPTY))
    panel.accept()
    assert (layer.data[5:14, 5:14] == 9).all()
    new_ids = set(np.unique(layer.data)) - {0, 9}
    assert len(new_ids) == 3 and min(new_ids) > 9  # new objects never merge with labelled ones


def test_switching_image_discards_the_proposal(setup, qtbot):
    window, panel = setup
    select(panel, "classic")
    predict_current(qtbot, panel)
    window.menu_actions.next_image.trigger()
    assert panel.proposal is None and not panel.accept_button.isEnabled()


def test_batch_applies_each_new_image_and_reports_failures(setup, qtbot):
    window, panel = setup
    select(panel, "classic")
    document = window.document
    broken = document.images[2]
    assert not broken.loaded
    broken.source.path = Path(broken.source.path).with_name("missing.png")
    steps = [len(document.undo_stack.for_image(e)) for e in document.images]
    assert panel.batch_button.isEnabled() and "(3)" in panel.batch_button.text()
    qtbot.mouseClick(panel.batch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert [e.status for e in document.images] == ["predicted", "predicted", "new"]
    # one step in each image's own history
    assert [len(document.undo_stack.for_image(e)) for e in document.images] == [steps[0] + 1, steps[1] + 1, steps[2]]
    assert "1 failed" in panel.progress_label.text() and "cells_2" in panel.progress_label.text()
    job = records.jobs(window.project.connection)[-1]
    assert job.kind == "presegment" and job.status == "done" and job.result["applied"] == 2
    assert window.current_image() is document.images[0]
    document.undo_stack.undo()  # the image on screen only
    assert document.images[0].status == "new" and document.images[1].status == "predicted"


def test_cancel_stops_without_changing_images(setup, qtbot):
    window, panel = setup
    select(panel, "classic")
    panel.predict_new_images()
    assert panel.cancel_button.isEnabled() and not panel.batch_button.isEnabled()
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert all(e.status == "new" for e in window.document.images)
    assert "cancelled" in panel.progress_label.text()
    assert panel.batch_button.isEnabled()


def test_project_versions_are_listed_and_one_click_makes_one_active(setup, tmp_path):
    window, panel = setup
    folder = window.project.folder / "models" / "v1"
    folder.mkdir(parents=True)
    card = {"format": 1, "name": "v1", "kind": "classic",
            "validation": {"base": {"val_ap50": 0.5, "val_dice": 0.6}, "trained": {"val_ap50": 0.7, "val_dice": 0.8}}}
    (folder / "card.json").write_text(__import__("json").dumps(card))
    records.add_model_version(window.project.connection, "v1", "models/v1", card)
    panel.refresh_models()
    assert panel.versions_list.count() == 1
    assert "0.500 → 0.700" in panel.versions_list.item(0).text()
    panel.versions_list.setCurrentRow(0)
    panel.activate_button.click()
    assert records.model_versions(window.project.connection)[0].active
    assert panel.selected_model().name == "v1" and panel.selected_model().source == "project"
    assert "active" in panel.versions_list.item(0).text()
    panel.deactivate_button.click()
    assert not records.model_versions(window.project.connection)[0].active


def test_a_version_worse_than_its_base_is_flagged():
    from seggui.ui.model_catalogue import regression_warning

    worse = {"validation": {"base": {"val_ap50": 0.5, "val_dice": 0.8}, "trained": {"val_ap50": 0.3, "val_dice": 0.9}}}
    better = {"validation": {"base": {"val_ap50": 0.3, "val_dice": 0.8}, "trained": {"val_ap50": 0.5, "val_dice": 0.7}}}
    tie_worse_dice = {"validation": {"base": {"val_ap50": 0.0, "val_dice": 0.6}, "trained": {"val_ap50": 0.0, "val_dice": 0.1}}}
    assert "lower than its base" in regression_warning(worse)
    assert regression_warning(better) == ""
    assert regression_warning(tie_worse_dice) != ""
    assert regression_warning({}) == ""


def test_add_model_folder_trained_elsewhere_becomes_a_version(setup, tmp_path, monkeypatch):
    from seggui.ml.registry import RESOURCE_MODELS

    window, panel = setup
    assert panel.add_model_folder(str(RESOURCE_MODELS / "nuclei"))
    (version,) = records.model_versions(window.project.connection)
    copied = window.project.folder / version.path
    assert sorted(p.name for p in copied.iterdir()) == ["card.json", "weights.pt"]
    assert panel.versions_list.count() == 1
    # Listed, not selected: adding a version never changes the model that pre-segments.
    assert panel.selected_model().name == "nuclei" and not panel.choice_label.text()
    assert panel.add_model_folder(str(RESOURCE_MODELS / "nuclei"))  # a second copy gets its own name
    names = [v.name for v in records.model_versions(window.project.connection)]
    assert len(set(names)) == 2

    shown = []
    monkeypatch.setattr("seggui.ui.model_chooser.show_error", lambda parent, title, error, *a: shown.append(str(error)))
    broken = tmp_path / "broken_model"
    broken.mkdir()
    (broken / "card.json").write_text("{not json")
    before = sorted(p.name for p in (window.project.folder / "models").iterdir())
    assert not panel.add_model_folder(str(broken))
    assert shown and "broken_model" in shown[0]
    assert sorted(p.name for p in (window.project.folder / "models").iterdir()) == before


def test_choose_weights_file_makes_an_unavailable_torchvision_model_usable(setup, tmp_path, monkeypatch):
    import torch

    from seggui.ml.torchvision_models import TORCHVISION_MODELS, build

    window, panel = setup
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "torch" / "hub"))
    panel.refresh_models()
    select(panel, "deeplabv3_mobilenet_v3_large")
    assert not panel.selected_model().available and panel.weights_button.isVisibleTo(panel)
    shown = []
    monkeypatch.setattr("seggui.ui.model_chooser.show_error", lambda parent, title, error, *a: shown.append(str(error)))
    wrong = tmp_path / "not_deeplab.pth"
    torch.save({"weight": torch.zeros(3)}, wrong)
    assert not panel.choose_weights_file(str(wrong))  # does not fit the architecture: refused
    assert shown and "not_deeplab.pth" in shown[0]
    local = tmp_path / "downloaded_by_a_colleague.pth"
    torch.manual_seed(0)
    torch.save(build("deeplabv3_mobilenet_v3_large", 21, aux_loss=True).state_dict(), local)
    assert panel.choose_weights_file(str(local))
    assert (tmp_path / "torch/hub/checkpoints" / TORCHVISION_MODELS["deeplabv3_mobilenet_v3_large"][0]).is_file()
    assert panel.selected_model().name == "deeplabv3_mobilenet_v3_large" and panel.selected_model().available
    assert not panel.weights_button.isVisibleTo(panel)


def test_batch_never_replaces_what_a_person_painted_and_says_so_before_it_starts(setup, qtbot):
    from seggui.core.tools import ToolController

    window, panel = setup
    select(panel, "classic")
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData(REPLACE))
    document = window.document
    painted, imported, fresh = document.images
    # A person paints on the image on screen: it becomes "edited".
    controller = window.canvas.controller if hasattr(window.canvas, "controller") else None
    assert isinstance(controller, ToolController)
    window.tool_state.tool, window.tool_state.label_id, window.tool_state.brush_radius = "brush", 1, 3
    controller.press(5, 60)
    controller.release(5, 60)
    assert painted.status == "edited"
    painted_before = painted.label_layers[0].data.copy()
    # Labels that arrived without a person's status change (an old project, a script): still "new".
    layer = imported.label_layers[0]
    document.undo_stack.push(change_command(layer, (0, 0, 6, 6), np.full((6, 6), 7, layer.data.dtype), "import"),
                             execute=True)
    imported_before = layer.data.copy()
    assert imported.status == "new"
    plan = panel.batch_plan()
    assert plan.startswith("2 new image(s) get a proposal") and "1 already hold labels" in plan
    assert "1 edited or reviewed image(s) are left alone" in plan
    assert panel.batch_button.statusTip() == plan and "(2)" in panel.batch_button.text()
    qtbot.mouseClick(panel.batch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert np.array_equal(painted.label_layers[0].data, painted_before) and painted.status == "edited"
    after = imported.label_layers[0].data
    assert np.array_equal(after[imported_before > 0], imported_before[imported_before > 0])  # kept exactly
    assert (after[imported_before == 0] > 0).any()  # the proposal filled the rest
    assert fresh.status == "predicted" and fresh.label_layers[0].data.any()


def test_on_a_short_window_the_dock_scrolls_to_the_proposal(setup, qtbot):
    window, panel = setup
    area = window.docks["Model"].widget()
    for dock in window.docks.values():  # the Model dock alone on the right, as its tab shows it
        if dock.widget() is not area:
            dock.hide()
    window.resize(1000, 480)  # a laptop screen: the Proposal box starts below the dock's fold
    qtbot.wait(50)
    area.verticalScrollBar().setValue(0)
    button = panel.accept_button

    def box_visible() -> bool:
        top = button.mapTo(area.viewport(), button.rect().topLeft()).y()
        return 0 <= top and top + button.height() <= area.viewport().height()

    assert area.verticalScrollBar().maximum() > 0 and not box_visible()
    select(panel, "classic")
    predict_current(qtbot, panel)
    qtbot.waitUntil(box_visible, timeout=2_000)


def test_accept_as_replace_asks_before_dropping_painted_cells(setup, qtbot, monkeypatch):
    from seggui.core.proposals import FILL_EMPTY

    window, panel = setup
    select(panel, "classic")
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData(REPLACE))
    entry = window.current_image()
    layer = entry.label_layers[0]
    controller = window.canvas.controller
    window.tool_state.tool, window.tool_state.label_id, window.tool_state.brush_radius = "brush", 9, 3
    controller.press(5, 60)  # a cell painted where the model finds nothing
    controller.release(5, 60)
    assert entry.status == "edited"
    painted = layer.data == 9
    asked = []

    def answer(choice):
        def ask(name, cells, proposed):
            asked.append((name, cells, proposed))
            return choice
        return ask

    # Cancel: nothing changes, the proposal stays to be accepted.
    monkeypatch.setattr(panel, "ask_replace", answer(None))
    predict_current(qtbot, panel)
    steps = len(window.document.undo_stack)
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert asked == [("labels", 1, 3)]
    assert len(window.document.undo_stack) == steps and panel.proposal is not None
    # Keep them: the painted cell stays exactly, the proposal fills the rest.
    monkeypatch.setattr(panel, "ask_replace", answer(FILL_EMPTY))
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert (layer.data[painted] == 9).all() and len(np.unique(layer.data)) == 5
    assert entry.status == "edited"  # not a model's labels alone: a batch leaves it, a Replace asks
    # Pre-segmenting again asks about the painted cell only (the filled ones carry a model's score).
    asked.clear()
    window.tool_state.tool = "pick"
    predict_current(qtbot, panel)
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert asked == [("labels", 1, 3)] and (layer.data[painted] == 9).all()
    # Replacing them is a person's choice; then the labels are the model's and no question is asked.
    monkeypatch.setattr(panel, "ask_replace", answer(REPLACE))
    predict_current(qtbot, panel)
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert not (layer.data == 9).any() and entry.status == "predicted"
    asked.clear()
    predict_current(qtbot, panel)
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert asked == []


def test_a_replace_keeps_asking_for_verified_cells_of_a_predicted_image(setup, qtbot, monkeypatch):
    from seggui.core.proposals import cells_a_replace_discards

    window, panel = setup
    select(panel, "classic")
    entry = window.current_image()
    layer = entry.label_layers[0]
    predict_current(qtbot, panel)
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData(REPLACE))
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert entry.status == "predicted" and cells_a_replace_discards(entry, layer) == 0
    layer.instance_info = {1: {"verified": True}, 2: {"score": 0.4}, 99: {"verified": True}}  # 99: gone
    assert cells_a_replace_discards(entry, layer) == 1
