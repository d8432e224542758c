import numpy as np
import pytest

from seggui.ml.normalize import normalize_image, to_channels
from seggui.ml.postprocess import InstanceParams, instances_from_outputs
from seggui.ml.targets import BOUNDARY, INTERIOR, distance_target, three_class_target


@pytest.mark.parametrize("dtype,top", [(np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0)])
def test_percentile_normalisation_maps_range_to_unit(dtype, top):
    rng = np.random.default_rng(0)
    image = (rng.random((64, 64)) * top).astype(dtype)
    out = normalize_image(image, 1)
    assert out.shape == (1, 64, 64) and out.dtype == np.float32
    assert np.percentile(out, 1) == pytest.approx(0.0, abs=0.02)
    assert np.percentile(out, 99.8) == pytest.approx(1.0, abs=0.02)


def test_rgba_drops_alpha_and_grey_model_averages_colour():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 30
    rgba[..., 1] = 60
    rgba[..., 2] = 90
    rgba[..., 3] = 255  # alpha must not enter the mean
    assert to_channels(rgba, 1)[0, 0, 0] == pytest.approx(60)
    assert to_channels(rgba, 3).shape == (3, 4, 4)
    assert to_channels(np.ones((4, 4), np.uint16), 3).shape == (3, 4, 4)


def test_flat_and_nan_images_stay_finite():
    assert np.all(normalize_image(np.full((8, 8), 7, np.uint16)) == 0)
    image = np.ones((8, 8), np.float32)
    image[0, 0] = np.nan
    image[1, 1] = 5
    assert np.isfinite(normalize_image(image)).all()


def two_touching_squares():
    labels = np.zeros((20, 30), np.int32)
    labels[5:15, 5:15] = 1
    labels[5:15, 15:25] = 2
    return labels


def test_three_class_target_separates_touching_cells():
    target = three_class_target(two_touching_squares())
    assert target[10, 14] == BOUNDARY and target[10, 15] == BOUNDARY  # the shared edge
    assert target[10, 10] == INTERIOR and target[0, 0] == 0
    interior = target == INTERIOR
    from scipy import ndimage

    assert ndimage.label(interior)[1] == 2


def test_distance_target_peaks_at_one_inside_each_cell():
    distance = distance_target(two_touching_squares())
    assert distance.max() == pytest.approx(1.0)
    assert distance[10, 14] < 0.3 and distance[0, 0] == 0
    assert distance[9, 9] == pytest.approx(1.0) or distance[10, 10] == pytest.approx(1.0)


def test_watershed_splits_touching_cells_from_ideal_outputs():
    labels = two_touching_squares()
    classes = three_class_target(labels)
    probabilities = np.stack([(classes == k).astype(np.float32) for k in range(3)])
    found = instances_from_outputs(probabilities, distance_target(labels), InstanceParams(min_size=1))
    assert found.dtype == np.uint16 and found.max() == 2
    assert len(np.unique(found[labels == 1])) == 1 and len(np.unique(found[labels == 2])) == 1
