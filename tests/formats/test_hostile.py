"""Bad and hostile input: a clear FormatError naming the file, or a reported skip; never a crash."""

from __future__ import annotations

import json
import random
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seggui.core.errors import FormatError, SegguiError
from seggui.formats import import_annotations
from seggui.formats.coco import read_coco
from seggui.formats.cvat import read_cvat
from seggui.formats.labelme import read_labelme
from seggui.formats.supervisely import read_supervisely


@pytest.fixture
def hostile(fixtures_dir):
    return fixtures_dir / "formats" / "hostile"


@pytest.mark.parametrize("name, message", [
    ("traversal.json", "image size unknown"),
    ("absolute.json", "image size unknown"),
    ("nan.json", "invalid JSON number NaN"),
    ("bad_size.json", "not positive integers"),
    ("malformed.json", "malformed JSON"),
])
def test_labelme_errors_name_the_file(hostile, name, message):
    with pytest.raises(FormatError, match=message) as caught:
        read_labelme(hostile / name)
    assert caught.value.path.endswith(name)


def test_traversal_reported_and_not_opened(hostile, tmp_path):
    data = json.loads((hostile / "traversal.json").read_text())
    data.update(imageHeight=10, imageWidth=12)
    (tmp_path / "t.json").write_text(json.dumps(data))
    dataset = read_labelme(tmp_path / "t.json")
    assert dataset.images[0].image_path is None
    assert any("outside the source folder" in w for w in dataset.report.warnings)


@pytest.mark.parametrize("name, reason", [
    ("two_points.json", "at least 3"),
    ("mask_bomb.json", "outside the allowed size"),
])
def test_labelme_bad_shapes_are_reported(hostile, name, reason):
    dataset = read_labelme(hostile / name)
    assert any(reason in why for _, why in dataset.report.skipped), dataset.report.skipped


def test_wrong_types_reported(hostile):
    dataset = read_labelme(hostile / "wrong_types.json")
    assert len(dataset.report.skipped) == 3


def test_folder_import_skips_bad_files(hostile, tmp_path):
    for name in ("malformed.json", "two_points.json", "nan.json"):
        shutil.copy(hostile / name, tmp_path / name)
    dataset = read_labelme(tmp_path)
    assert len(dataset.images) == 1
    assert {where for where, _ in dataset.report.skipped} >= {"malformed.json", "nan.json"}


@pytest.mark.parametrize("name", ["entity_bomb.xml", "external_entity.xml"])
def test_xml_entities_refused(hostile, name):
    with pytest.raises(FormatError, match="entities or a DTD"):
        read_cvat(hostile / name)


def test_cvat_bad_rle_and_short_polygon(hostile):
    dataset = read_cvat(hostile / "bad_rle.xml")
    reasons = [why for _, why in dataset.report.skipped]
    assert any("RLE sums to 6" in r for r in reasons) and any("at least 3" in r for r in reasons)
    with pytest.raises(FormatError, match="malformed XML"):
        read_cvat(hostile / "malformed.xml")


def test_mit_xml_file_refused(hostile):
    with pytest.raises(FormatError, match="old MIT LabelMe XML"):
        import_annotations(hostile / "mit.xml")


def test_supervisely_zlib_bomb(hostile):
    dataset = read_supervisely(hostile / "supervisely_bomb")
    assert any("decompresses to more than" in why for _, why in dataset.report.skipped)


def test_coco_bad_rle(hostile):
    dataset = read_coco(hostile / "coco_bad_rle.json")
    reasons = " | ".join(why for _, why in dataset.report.skipped)
    assert "sum to 100" in reasons and "not in 'images'" in reasons and "not in 'categories'" in reasons
    assert "RLE" in reasons  # the garbage compressed string is refused before pycocotools sees it


def _mutate(value, rng: random.Random):
    """Replace, drop or retype one random node of a JSON document."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        choice = rng.random()
        if choice < 0.2:
            value.pop(key)
        elif choice < 0.4:
            value[key] = rng.choice([None, "x", -1, 1e308, [], {}, [[1]], True, 10**12])
        else:
            value[key] = _mutate(value[key], rng)
    elif isinstance(value, list) and value:
        index = rng.randrange(len(value))
        if rng.random() < 0.3:
            value[index] = rng.choice([None, "x", -5, [], {}, 3.5, [1, 2, 3]])
        else:
            value[index] = _mutate(value[index], rng)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = rng.choice([value * -1, value * 1e6, 0, value + 0.5])
    elif isinstance(value, str):
        value = rng.choice(["", value[: len(value) // 2], "../" * 5 + "etc/passwd", "A" * 7])
    return value


def _mutated_import(source, tmp_path, seed, name):
    data = json.loads(source.read_text())
    rng = random.Random(seed)
    for _ in range(rng.randint(1, 4)):
        data = _mutate(data, rng)
    target = tmp_path / name
    target.write_text(json.dumps(data))
    try:
        import_annotations(target, format="labelme" if "labelme" in name else "coco")
    except SegguiError as error:
        assert error.path is None or name in error.path or target.parent.name in error.path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_labelme_files(shared_data, tmp_path, seed):
    source = shared_data / "labelme" / "primitives" / "primitives.json"
    _mutated_import(source, tmp_path, seed, "mutated_labelme.json")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_coco_files(shared_data, tmp_path, seed):
    source = shared_data / "coco" / "coco_instances" / "annotations" / "instances_val.json"
    _mutated_import(source, tmp_path, seed, "mutated_coco.json")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), cut=st.integers(0, 3000))
def test_truncated_and_garbled_cvat(shared_data, tmp_path, data, cut):
    text = (shared_data / "cvat" / "docs" / "cvat_for_images_1.1_docs_example.xml").read_bytes()
    (tmp_path / "x.xml").write_bytes(text[:cut] + data + text[cut + len(data):])
    try:
        read_cvat(tmp_path / "x.xml")
    except FormatError as error:
        assert error.path.endswith("x.xml")
