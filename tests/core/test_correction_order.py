"""Next image to correct: most expected wrong cells first (core.correction_order)."""

from __future__ import annotations

import numpy as np

from seggui.core.correction_order import correction_order, expected_errors, next_to_correct
from seggui.core.document import Document, ImageEntry, ImageSource
from seggui.core.layers import LabelLayer
from seggui.core.project import Project


def test_expected_errors_counts_unverified_scored_cells():
    info = {1: {"score": 0.9}, 2: {"score": 0.2}, 3: {"score": 0.1, "verified": True}, 4: {}}
    assert expected_errors(info) == 0.9  # 0.1 + 0.8; the verified cell is no longer in doubt
    assert expected_errors({1: {}}) is None and expected_errors({}) is None
    assert expected_errors({1: {"score": float("nan")}, 2: {"score": True}, 3: {"score": 3.0}}) == 0.0


def entry(name: str, status: str = "predicted", doubt=None) -> ImageEntry:
    e = ImageEntry(ImageSource(path=__import__("pathlib").Path(f"/x/{name}"), height=4, width=4), name=name,
                   status=status)
    e.doubt = doubt
    e.loader = lambda _: []  # never loaded here: the saved doubt counts
    return e


def test_order_puts_doubtful_first_then_unscored_and_skips_reviewed():
    a, b, c, d, e = entry("a", doubt=1.0), entry("b", doubt=5.0), entry("c"), entry("d", "reviewed", 9.0), entry("e", doubt=2.5)
    assert [x.name for x in correction_order([a, b, c, d, e])] == ["b", "e", "a", "c"]
    assert next_to_correct([a, b, c, d, e], None).name == "b"
    assert next_to_correct([a, b, c, d, e], e).name == "a"
    assert next_to_correct([a, b, c, d, e], c).name == "b"  # wraps
    assert next_to_correct([a, b, c, d, e], d).name == "b"  # just reviewed: the most doubtful
    assert next_to_correct([d], None) is None


def test_project_keeps_the_doubt_of_saved_proposals(tmp_path):
    import cv2

    (tmp_path / "images").mkdir()
    for value, name in enumerate(("a", "b")):  # different pixels: the same file twice is one image
        cv2.imwrite(str(tmp_path / "images" / f"{name}.png"), np.full((8, 8), value, np.uint8))
    project = Project.create(tmp_path / "project")
    document = Document()
    project.add_images(document, [tmp_path / "images"])
    labels = np.zeros((8, 8), np.uint16)
    labels[1:3, 1:3], labels[5:7, 5:7] = 1, 2
    for item, scores in zip(document.images, ((0.9, 0.8), (0.3, 0.1))):
        info = {1: {"score": scores[0]}, 2: {"score": scores[1]}}
        item.set_layers([item.layers[0], LabelLayer(labels.copy(), "labels", instance_info=info)])
    project.save(document)
    project.close()
    project, document = Project.open(tmp_path / "project")
    try:
        assert [round(e.doubt, 3) for e in document.images] == [0.3, 1.6]
        assert [e.name for e in correction_order(document.images)] == ["b.png", "a.png"]
    finally:
        project.close()
