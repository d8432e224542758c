"""Training on verified cells: a person verifies a few cells of an image that is not reviewed,
and training learns from those cells (and the background around them) only."""

from __future__ import annotations

import numpy as np

from seggui.core.document import Document
from seggui.core.layers import LabelLayer
from seggui.core.project import Project
from seggui.core.training_set import project_split, reviewed_samples, training_material, verified_ids
from seggui.ml.targets import IGNORE
from seggui.ml.training import TrainConfig, train
from seggui.ml.training.data import Pair, load_sample, unknown_pixels


def cells_image(shape=(64, 80), count=6, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(30, 4, shape).clip(0, 255)
    labels = np.zeros(shape, np.uint16)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for cell in range(1, count + 1):
        cy, cx = 10 + (cell - 1) // 3 * 30, 12 + (cell - 1) % 3 * 26
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 36
        labels[disc] = cell
        image[disc] = 200
    return image.astype(np.uint8), labels


def project_with_verified(tmp_path, reviewed: bool = False, verified=(1, 2)):
    import cv2

    (tmp_path / "images").mkdir()
    image, labels = cells_image()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), image)
    cv2.imwrite(str(tmp_path / "images" / "b.png"), image)
    project = Project.create(tmp_path / "project")
    document = Document()
    project.add_images(document, [tmp_path / "images"])
    for entry in document.images:
        info = {cell: {"verified": True, "score": 0.9} for cell in verified} if entry.name == "a.png" else {}
        info[3] = {"score": 0.2}
        entry.set_layers([entry.layers[0], LabelLayer(labels.copy(), "labels", instance_info=info)])
        document.set_status(entry, "reviewed" if reviewed else "predicted")
    project.save(document)
    project.close()
    return tmp_path / "project", labels


def test_verified_ids_reads_only_true_marks():
    assert verified_ids({"3": {"verified": True}, 4: {"verified": False}, 5: {"score": 1}, "x": {"verified": True},
                         6: "verified"}) == (3,)


def test_unverified_images_bring_only_their_verified_cells(tmp_path):
    folder, _ = project_with_verified(tmp_path)
    samples = reviewed_samples(folder)
    assert [(s.name, s.verified_ids) for s in samples] == [("a.png", (1, 2))]  # b.png: nothing verified
    assert reviewed_samples(folder, with_verified_cells=False) == []
    split = project_split(folder)
    assert [s.name for s in split.training] == ["a.png"] and split.validation == []  # never validates


def test_reviewed_images_stay_whole(tmp_path):
    folder, _ = project_with_verified(tmp_path, reviewed=True)
    assert all(s.verified_ids is None for s in reviewed_samples(folder))


def test_only_verified_cells_and_a_ring_of_background_carry_loss(tmp_path):
    folder, labels = project_with_verified(tmp_path)
    [row] = reviewed_samples(folder)
    sample = load_sample(Pair("a", row.image_path, [row.mask_path], row.ignore_ids, row.verified_ids), 1)
    known = sample.classes != IGNORE
    assert known[labels == 1].all() and known[labels == 2].all()
    for cell in (3, 4, 5, 6):  # unchecked proposals: neither cell nor background
        assert (sample.classes[labels == cell] == IGNORE).all() and not sample.labels[labels == cell].any()
    assert sample.classes[10, 21] == 0  # background just outside cell 1 is learnt
    assert sample.classes[60, 75] == IGNORE  # far from any verified cell: unknown
    assert set(np.unique(sample.labels)) == {0, 1, 2}


def test_crops_of_a_partly_verified_image_mostly_hold_pixels_that_teach(tmp_path, monkeypatch):
    """A crop placed anywhere on an image with one verified cell would mostly hold no loss;
    crops are centred so that nearly all hold known pixels, and a whole image's crops are
    placed as before (anywhere)."""
    import torch

    from seggui.ml.training.data import CropDataset

    folder, labels = project_with_verified(tmp_path, verified=(6,))
    [row] = reviewed_samples(folder)
    partly = load_sample(Pair("a", row.image_path, [row.mask_path], row.ignore_ids, row.verified_ids), 1)
    assert len(partly.meta["known_points"])
    whole = load_sample(Pair("a", row.image_path, [row.mask_path]), 1)
    assert "known_points" not in whole.meta

    def teaching_crops(sample) -> float:
        crops = CropDataset([sample], crop_size=16, length=200, seed=0)
        return float(np.mean([bool((crops[i][1] != IGNORE).any()) for i in range(len(crops))]))

    assert teaching_crops(partly) >= 0.85
    before = [CropDataset([whole], 16, 5, seed=0)[i][0] for i in range(5)]
    monkeypatch.setattr(CropDataset, "_corner", staticmethod(lambda sample, rng, shape, size: (
        int(rng.integers(0, shape[0] - size + 1)), int(rng.integers(0, shape[1] - size + 1)))))
    assert teaching_crops(partly) <= 0.6  # what uniform placement gives: the test can fail
    # A whole image's crops are those uniform placement gives, draw for draw.
    after = [CropDataset([whole], 16, 5, seed=0)[i][0] for i in range(5)]
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_unknown_pixels_ring_never_claims_another_cell():
    labels = np.zeros((30, 30), np.int32)
    labels[5:15, 5:15] = 1
    labels[5:15, 15:25] = 2  # touching, unchecked
    unknown = unknown_pixels(labels, (1,))
    assert not unknown[labels == 1].any() and unknown[labels == 2].all()
    assert not unknown[16, 10] and unknown[29, 29]
    assert unknown_pixels(labels, (7,)).all()  # a verified id no longer in the image: nothing known


def test_material_counts_reviewed_images_and_verified_cells(tmp_path):
    folder, _ = project_with_verified(tmp_path)
    project, document = Project.open(folder)
    try:
        material = training_material(document.images)
        assert (material.reviewed_images, material.verified_cells, material.partial_images) == (0, 2, 1)
        assert material.describe() == "2 verified cells on 1 other image"
        a = next(e for e in document.images if e.name == "a.png")
        a.label_layers[0].instance_info[4] = {"verified": True}  # loaded: counted live
        assert training_material(document.images).verified_cells == 3
        document.set_status(a, "reviewed")
        assert training_material(document.images).describe() == "All reviewed images (1)"
    finally:
        project.close()


def test_training_runs_on_verified_cells_alone(tmp_path):
    folder, _ = project_with_verified(tmp_path, verified=(1, 2, 4))
    card = train(TrainConfig(out=tmp_path / "model", project=folder, epochs=1, crop_size=32, batch_size=2,
                             crops_per_epoch=4, width=4, depth=2, threads=1))
    assert card["training"]["train_images"] and (tmp_path / "model" / "weights.pt").is_file()


def test_validation_leaves_out_what_training_does_not_know(tmp_path):
    """A partly verified image picking the best epoch must not count the model's other cells
    as false positives (they are unknown, not wrong), or the run keeps the epoch that finds least."""
    from seggui.ml.postprocess import InstanceParams
    from seggui.ml.training.validation import score_maps

    folder, labels = project_with_verified(tmp_path)
    [row] = reviewed_samples(folder)
    sample = load_sample(Pair("a", row.image_path, [row.mask_path], row.ignore_ids, row.verified_ids), 1)
    sample.meta.pop("raw", None)  # as the trainer keeps it
    probabilities = np.zeros((3,) + labels.shape, np.float32)
    probabilities[0] = np.where(labels > 0, 0.0, 1.0)  # the model finds all six cells
    probabilities[1] = 1.0 - probabilities[0]
    scores = score_maps([(probabilities, None)], [sample], InstanceParams(0.5, 0.5, 4, 1))
    assert scores["val_ap50"] == 1.0  # the two verified cells found; the four unchecked ones not counted


def test_fine_tuning_measures_cell_size_on_verified_cells_only(tmp_path):
    """The unverified rest of a layer may be the base model's proposal, cut at its own size:
    measuring it would keep the images at the wrong scale (big cells seen as small)."""
    import cv2

    from tests.ml.helpers import save_tiny_unet

    (tmp_path / "images").mkdir()
    image = np.full((160, 160), 20, np.uint8)
    labels = np.zeros((160, 160), np.uint16)
    yy, xx = np.mgrid[:160, :160]
    for cell, (cy, cx) in enumerate(((40, 40), (40, 110), (110, 75)), start=1):  # ~48 px across, verified
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= 24 ** 2] = cell
    for index in range(12):  # many 6 px fragments, unchecked
        cy, cx = 8 + (index // 6) * 144, 10 + (index % 6) * 26
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= 9] = 10 + index
    image[labels > 0] = 200
    cv2.imwrite(str(tmp_path / "images" / "a.png"), image)
    project = Project.create(tmp_path / "project")
    document = Document()
    project.add_images(document, [tmp_path / "images"])
    [entry] = document.images
    info = {cell: {"verified": True} for cell in (1, 2, 3)}
    entry.set_layers([entry.layers[0], LabelLayer(labels, "labels", instance_info=info)])
    document.set_status(entry, "edited")
    project.save(document)
    project.close()
    base = save_tiny_unet(tmp_path / "base")
    card = train(TrainConfig(out=tmp_path / "tuned", project=tmp_path / "project", base=str(base), epochs=1,
                             batch_size=2, crops_per_epoch=2, threads=1))
    assert 45 < card["scale"]["measured_cell_diameter"] < 50


def test_the_known_ring_is_a_quarter_of_a_cell_wide():
    """A neighbour nobody outlined lies in the ring and is taught as background; a quarter of
    a diameter keeps where the cell ends without reaching far into its neighbours."""
    labels = np.zeros((120, 120), np.uint16)
    yy, xx = np.mgrid[:120, :120]
    labels[(yy - 60) ** 2 + (xx - 60) ** 2 <= 20**2] = 1  # a verified cell 40 px across
    labels[(yy - 60) ** 2 + (xx - 100) ** 2 <= 6**2] = 2  # an unchecked proposal beside it
    unknown = unknown_pixels(labels, (1,))
    assert not unknown[labels == 1].any()
    assert unknown[labels == 2].all()  # never over another, unchecked cell
    assert not unknown[60, 60 - 20 - 8]  # 8 px outside: known background
    assert unknown[60, 60 - 20 - 14]  # 14 px outside: unknown (it was known at half a diameter)
    assert unknown[0, 0]
