"""import -> export -> import gives bit-identical label images for every mask-based format."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass
from seggui.formats import export_annotations, import_annotations

MASK_FORMATS = ["coco", "labelme", "cvat", "supervisely", "png", "coco-panoptic"]


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Ids 1..N in first-appearance (row-major) order: importers number instances in order."""
    from skimage.segmentation import relabel_sequential

    return relabel_sequential(labels)[0].astype(np.uint16)


def _dataset(labels: np.ndarray, classes_seed: int = 0) -> Dataset:
    ids = [int(i) for i in np.unique(labels) if i]
    image = ImageAnnotation("img.png", labels.shape[0], labels.shape[1], labels,
                            {i: 1 + (i + classes_seed) % 2 for i in ids})
    return Dataset([LabelClass(1, "a", (200, 0, 0)), LabelClass(2, "b", (0, 200, 0))], [image])


def _round_trip(dataset: Dataset, fmt: str, folder: Path) -> Dataset:
    export_annotations(dataset, folder / fmt, fmt)
    return import_annotations(folder / fmt, "masks" if fmt == "png" else fmt)


def _names(dataset: Dataset) -> dict[int, str]:
    names = {c.id: c.name for c in dataset.classes}
    return {i: names[c] for i, c in dataset.images[0].instance_classes.items()}


def _check(dataset: Dataset, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        again = _round_trip(dataset, fmt, Path(folder))
    assert np.array_equal(again.images[0].labels, dataset.images[0].labels), fmt
    assert _names(again) == _names(dataset), fmt


label_images = st.integers(1, 24).flatmap(
    lambda h: st.integers(1, 24).flatmap(
        lambda w: arrays(np.uint16, (h, w), elements=st.integers(0, 6))
    )
)


@pytest.mark.parametrize("fmt", MASK_FORMATS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels=label_images)
def test_hypothesis_round_trip(fmt, labels):
    # Random pixels: holes, touching instances, one-pixel and border instances, split instances.
    _check(_dataset(_canonical(labels)), fmt)


@pytest.mark.parametrize("fmt", MASK_FORMATS)
def test_handmade_cases(fmt):
    labels = np.zeros((20, 24), np.uint16)
    labels[0:10, 0:10] = 1
    labels[3:6, 3:6] = 0  # hole
    labels[0:10, 10:14] = 2  # touching 1
    labels[19, 23] = 3  # one pixel in the corner
    labels[12:20, 0:3] = 4  # on the border
    labels[15, 10] = 5
    labels[17, 12] = 5  # two parts
    labels[4, 4] = 6  # island inside the hole
    _check(_dataset(_canonical(labels)), fmt)


@pytest.mark.parametrize("fmt", MASK_FORMATS)
def test_real_files_round_trip(shared_data, fmt, tmp_path):
    for source in (shared_data / "labelme" / "instance_segmentation" / "data_annotated",
                   shared_data / "cvat" / "docs", shared_data / "coco" / "coco_instances"):
        dataset = import_annotations(source)
        again = _round_trip(dataset, fmt, tmp_path / source.name)
        assert len(again.images) == len(dataset.images)
        for a, b in zip(dataset.images, again.images):
            assert np.array_equal(a.labels, b.labels), (source, fmt)
