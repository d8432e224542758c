"""The project's validation set: fixed once, never a model's own unchanged proposal, not trained on,
and "not measured" (never "lower") when no image can judge the base honestly."""

from __future__ import annotations

import cv2
import numpy as np

from seggui.core import validation_set
from seggui.core.document import Document
from seggui.core.project import Project
from seggui.core.training_set import project_split
from seggui.ml.training import TrainConfig, train
from seggui.ui import model_catalogue

from .helpers import disks_image, save_tiny_unet


def make_reviewed_project(tmp_path, kinds: list[str]):
    """One reviewed image per kind: "person" (painted, no model), "model" (an accepted proposal
    left as it was), "corrected" (an accepted proposal a person then changed)."""
    folder = tmp_path / "images"
    folder.mkdir()
    paths, labels = [], []
    for index, _ in enumerate(kinds):
        image, label = disks_image(shape=(64, 80), centres=((20, 20), (20, 56), (46, 40)), radius=9, seed=index,
                                   dtype=np.uint8)
        path = folder / f"cells_{index}.png"
        cv2.imwrite(str(path), image)
        paths.append(path)
        labels.append(label)
    project = Project.create(tmp_path / "project")
    document = Document()
    project.add_images(document, paths)
    for entry, kind, label in zip(document.images, kinds, labels):
        layer = entry.label_layers[0]
        layer.data[...] = label
        if kind != "person":
            document.set_status(entry, "predicted", "nuclei")
            validation_set.record_accepted_proposal(project.connection, entry.id, layer.data)
        if kind == "corrected":
            layer.data[0:3, 0:3] = int(layer.data.max()) + 1  # a person's stroke after accepting
        document.set_status(entry, "reviewed")
    project.save(document)
    return project, document


def ids_of(project, document, kinds, wanted):
    return {e.id for e, k in zip(document.images, kinds) if k in wanted}


def test_model_accepted_unedited_images_never_validate_and_the_set_stays_fixed(tmp_path):
    kinds = ["model", "model", "corrected", "person", "model", "person", "model", "model", "model", "model"]
    project, document = make_reviewed_project(tmp_path, kinds)
    first = validation_set.update_validation_set(project.connection, project.folder)
    assert len(first) == 2  # a fifth of ten reviewed images
    assert set(first) <= ids_of(project, document, kinds, {"corrected", "person"})
    split = project_split(project.folder)
    assert {s.image_id for s in split.validation} == set(first)
    assert not {s.image_id for s in split.training} & set(first)  # never trained on
    assert len(split.training) == 8

    # A second run, and a third after one more image is reviewed: the same images, plus at
    # most the new one, never redrawn.
    assert validation_set.update_validation_set(project.connection, project.folder) == first
    project_split(project.folder)
    assert validation_set.stored_validation(project.connection) == first


def test_an_image_reviewed_later_extends_the_set_but_one_trained_on_never_joins(tmp_path):
    project, document = make_reviewed_project(tmp_path, ["person"] * 9)
    later = document.images[-2:]
    for entry in later:
        document.set_status(entry, "edited")  # not reviewed at the first run
    project.save(document)
    first = validation_set.update_validation_set(project.connection, project.folder)
    assert len(first) == 1 and not {e.id for e in later} & set(first)  # a fifth of 7 reviewed
    for entry in later:
        document.set_status(entry, "reviewed")
    project.save(document)
    second = validation_set.update_validation_set(project.connection, project.folder)
    # Extended to a fifth of 9 with a newly reviewed image; the six trained on stay out.
    assert second[:1] == first and len(second) == 2 and second[-1] in {e.id for e in later}


def test_training_on_a_project_reports_not_measured_without_an_eligible_image(tmp_path):
    project, document = make_reviewed_project(tmp_path, ["model", "model", "model"])
    project.close()
    base = save_tiny_unet(tmp_path / "base", depth=2, width=4)
    config = TrainConfig(out=tmp_path / "out", project=tmp_path / "project", base=str(base), epochs=1, crop_size=32,
                         crops_per_epoch=8, batch_size=4, threads=2, tune_thresholds=False)
    card = train(config)
    validation = card["validation"]
    assert validation["measured"] is False and validation["base"] is None and validation["trained"] is None
    assert validation["selection"]["base"]["val_ap50"] is not None  # still picked the best epoch
    assert model_catalogue.regression_warning(card) == ""
    assert "not measured" in model_catalogue.metrics_text(card)
    assert "lower" not in model_catalogue.describe(model_catalogue.model_from_folder(tmp_path / "out", "project"))


def test_training_on_a_project_validates_on_the_fixed_set_only(tmp_path):
    kinds = ["model", "person", "model", "corrected", "model"]
    project, document = make_reviewed_project(tmp_path, kinds)
    chosen = validation_set.update_validation_set(project.connection, project.folder)
    names = {e.id: e.name for e in document.images}
    project.close()
    base = save_tiny_unet(tmp_path / "base", depth=2, width=4)
    cards = []
    for run in ("a", "b"):
        config = TrainConfig(out=tmp_path / run, project=tmp_path / "project", base=str(base), epochs=1,
                             crop_size=32, crops_per_epoch=8, batch_size=4, threads=2, tune_thresholds=False)
        cards.append(train(config))
    for card in cards:
        assert card["validation"]["measured"] is True
        assert card["validation"]["base"]["val_ap50"] is not None
        assert card["training"]["validation_images"] == [names[i].rsplit(".", 1)[0] for i in chosen]
        assert not set(card["training"]["train_images"]) & set(card["training"]["validation_images"])
