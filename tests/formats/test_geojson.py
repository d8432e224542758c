"""QuPath GeoJSON: bit-exact round trips, exactness under an independent pixel-centre
rasteriser on real cells, QuPath's own file shapes, hostile input, and the CLI."""

from __future__ import annotations

import json
import random

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from skimage.draw import polygon2mask

from seggui.cli import main
from seggui.core.errors import FormatError, SegguiError
from seggui.formats import detect_format, export_annotations, import_annotations
from seggui.formats import geojson, rasterize
from seggui.formats.geojson import read_geojson
from tests.formats.test_polygon_exactness import awkward_labels, dataset_of, dsb_labels


def shoelace(ring) -> float:
    x, y = np.asarray(ring, dtype=float).T
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def polygons_of(geometry: dict) -> list:
    return [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]


def independent_mask(geometry: dict, shape) -> np.ndarray:
    """skimage's point-in-polygon on pixel centres: rings of a polygon by even-odd, parts united."""
    mask = np.zeros(shape, dtype=bool)
    for polygon in polygons_of(geometry):
        part = np.zeros(shape, dtype=bool)
        for ring in polygon:
            xy = np.asarray(ring, dtype=float)
            part ^= polygon2mask(shape, np.stack([xy[:, 1] - 0.5, xy[:, 0] - 0.5], axis=1))
        mask |= part
    return mask


def wrong_pixels(folder, dataset) -> tuple[int, int]:
    """(cells, pixels that differ) over every exported feature, checked against `dataset`."""
    cells = wrong = 0
    for image in dataset.images:
        stem = image.image_name.rsplit(".", 1)[0]
        document = json.loads((folder / f"{stem}.geojson").read_text())
        assert len(document["features"]) == np.count_nonzero(np.unique(image.labels))
        for feature in document["features"]:
            mask = independent_mask(feature["geometry"], image.labels.shape)
            instance = int(np.bincount(image.labels[mask]).argmax())
            wrong += int(np.count_nonzero(mask != (image.labels == instance)))
            cells += 1
    return cells, wrong


def test_round_trip_is_bit_exact_with_holes_and_parts(tmp_path):
    labels = awkward_labels()
    export_annotations(dataset_of([labels]), tmp_path / "out", "geojson")
    document = json.loads((tmp_path / "out" / "image0.geojson").read_text())
    assert document["type"] == "FeatureCollection" and document["seggui"]["imageWidth"] == 70
    features = document["features"]
    ring_cell = features[0]["geometry"]
    assert ring_cell["type"] == "Polygon" and len(ring_cell["coordinates"]) == 2  # exterior + hole
    assert features[5]["geometry"]["type"] == "MultiPolygon"  # the two-part cell
    for feature in features:
        assert feature["properties"]["objectType"] == "annotation" and feature["properties"]["isLocked"] is False
        assert feature["properties"]["classification"] == {"name": "nucleus", "color": [200, 0, 0]}
        assert len(feature["id"]) == 36
        for polygon in polygons_of(feature["geometry"]):
            assert all(ring[0] == ring[-1] and len(ring) >= 4 for ring in polygon)
            assert shoelace(polygon[0]) > 0 and all(shoelace(hole) < 0 for hole in polygon[1:])  # RFC 7946
    again = import_annotations(tmp_path / "out")
    assert np.array_equal(again.images[0].labels, labels)
    assert again.report.skipped == [] and again.report.warnings == []
    assert wrong_pixels(tmp_path / "out", dataset_of([labels])) == (9, 0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(labels=st.integers(1, 20).flatmap(lambda h: st.integers(1, 20).flatmap(
    lambda w: arrays(np.uint16, (h, w), elements=st.integers(0, 5)))))
def test_hypothesis_round_trip(tmp_path_factory, labels):
    from skimage.segmentation import relabel_sequential

    labels = relabel_sequential(labels)[0].astype(np.uint16)
    folder = tmp_path_factory.mktemp("g")
    export_annotations(dataset_of([labels]), folder / "out", "geojson")
    assert np.array_equal(import_annotations(folder / "out", "geojson").images[0].labels, labels)
    assert wrong_pixels(folder / "out", dataset_of([labels]))[1] == 0


def test_real_cells_exact_under_an_independent_rasteriser(shared_data, tmp_path):
    """6 DSB2018 and 2 Usiigaci label images (359 cells): 0 pixels wrong under skimage's
    pixel-centre fill, and a re-import through seggui gives identical label images."""
    usiigaci = sorted((shared_data / "cells" / "usiigaci" / "train").iterdir())[:2]
    labels_list = dsb_labels(shared_data) + [
        np.asarray(Image.open(folder / "instances_ids.png")).astype(np.uint16) for folder in usiigaci]
    dataset = dataset_of(labels_list)
    export_annotations(dataset, tmp_path / "out", "geojson")
    assert wrong_pixels(tmp_path / "out", dataset) == (359, 0)
    for image, labels in zip(import_annotations(tmp_path / "out").images, labels_list):
        assert np.array_equal(image.labels, labels)


def test_centre_fill_matches_skimage_off_the_boundaries():
    generator = np.random.default_rng(3)
    for _ in range(300):
        rings = [generator.uniform(-3, 25, (generator.integers(3, 12), 2)), generator.uniform(0, 20, (5, 2))]
        expected = independent_mask({"type": "Polygon", "coordinates": rings}, (20, 22))
        crop = rasterize.centre_fill(rings, 20, 22)
        got = np.zeros((20, 22), dtype=bool)
        if crop is not None:
            got[crop.top:crop.top + crop.mask.shape[0], crop.left:crop.left + crop.mask.shape[1]] = crop.mask
        assert np.array_equal(got, expected)
    with pytest.raises(ValueError, match="scanlines"):
        rasterize.centre_fill([np.array([[0, 0], [5, 100], [10, 0]], float)], 200, 200, max_crossings=10)


def square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def qupath_sample() -> dict:
    """What QuPath's 'Export objects as GeoJSON' writes (0.4+), plus a 0.2-style detection."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "3a1b9c4e-0a5c-4b8e-9f61-2d4b7c0e9a11",
         "geometry": {"type": "Polygon", "coordinates": [square(2, 2, 12, 10)]},
         "properties": {"objectType": "annotation", "name": "region A", "isLocked": True,
                        "classification": {"name": "Tumor", "color": [200, 0, 0]},
                        "measurements": {"Area px^2": 80.0, "Count": 3, "Missing": None}}},
        {"type": "Feature", "id": "PathDetectionObject",  # QuPath 0.2: class in the id, packed colour
         "geometry": {"type": "Polygon", "coordinates": [square(20, 2, 24, 6)]},
         "properties": {"classification": {"name": "Stroma", "colorRGB": -16744448},
                        "measurements": [{"name": "Nucleus: Area", "value": 16.0}], "isLocked": False}},
        {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [
            [square(2, 20, 12, 30), square(5, 23, 8, 26)[::-1]],  # a ring with a hole
            [square(20, 20, 22, 22)]]},
         "properties": {"objectType": "annotation", "classification": {"name": "Tumor", "color": [200, 0, 0]}}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [30.5, 4.5]},
         "properties": {"objectType": "annotation", "classification": {"name": "Immune", "color": 255}}},
        {"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": [[31, 31], [33, 32]]},
         "properties": {"objectType": "annotation"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 35], [20, 36]]},
         "properties": {"objectType": "annotation"}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square(30, 10, 40, 20)]},
         "nucleusGeometry": {"type": "Polygon", "coordinates": [square(33, 13, 36, 16)]},
         "properties": {"objectType": "cell", "classification": {"name": "Stroma", "color": [0, 128, 0]}}},
    ]}


def test_qupath_sample_file(tmp_path):
    text = json.dumps(qupath_sample()).replace("null", "NaN")  # QuPath's Gson writes NaN bare
    (tmp_path / "slide.geojson").write_text(text)
    cv2.imwrite(str(tmp_path / "slide.png"), np.zeros((40, 50), np.uint8))
    dataset = import_annotations(tmp_path / "slide.geojson")
    image = dataset.images[0]
    assert (image.height, image.width) == (40, 50) and image.image_path.name == "slide.png"
    colors = {c.name: c.color for c in dataset.classes}
    assert colors["Tumor"] == (200, 0, 0) and colors["Stroma"] == (0, 128, 0) and colors["Immune"] == (0, 0, 255)
    expected = np.zeros((40, 50), np.uint16)
    expected[2:10, 2:12] = 1
    expected[2:6, 20:24] = 2
    expected[20:30, 2:12] = 3
    expected[23:26, 5:8] = 0  # the hole
    expected[20:22, 20:22] = 3
    expected[10:20, 30:40] = 4
    assert np.array_equal(image.labels, expected)
    names = {c.id: c.name for c in dataset.classes}
    assert [names[image.instance_classes[i]] for i in (1, 2, 3, 4)] == ["Tumor", "Stroma", "Tumor", "Stroma"]
    first = image.instance_info[1]
    assert first["measurements"] == {"Area px^2": 80.0, "Count": 3} and first["name"] == "region A"
    assert first["id"] == "3a1b9c4e-0a5c-4b8e-9f61-2d4b7c0e9a11"
    assert image.instance_info[2]["objectType"] == "detection"
    assert image.instance_info[2]["measurements"] == {"Nucleus: Area": 16.0}
    assert [(v.kind, v.label) for v in image.vectors] == [
        ("point", "Immune"), ("points", "Unclassified"), ("polyline", "Unclassified")]
    assert any("nucleus" in where and "inside its cell" in why for where, why in dataset.report.skipped)
    # ... and back out: ids, measurements, object types and vectors survive.
    export_annotations(dataset, tmp_path / "out", "geojson")
    features = json.loads((tmp_path / "out" / "slide.geojson").read_text())["features"]
    assert features[0]["id"] == "3a1b9c4e-0a5c-4b8e-9f61-2d4b7c0e9a11"
    assert features[0]["properties"]["measurements"] == {"Area px^2": 80.0, "Count": 3}
    assert features[0]["properties"]["name"] == "region A"
    assert [f["properties"]["objectType"] for f in features[:4]] == ["annotation", "detection", "annotation",
                                                                     "detection"]
    assert [f["geometry"]["type"] for f in features[4:]] == ["Point", "MultiPoint", "LineString"]
    again = import_annotations(tmp_path / "out")
    assert np.array_equal(again.images[0].labels, expected)


def test_feature_list_single_feature_and_extent_size(tmp_path):
    features = qupath_sample()["features"][:2]
    (tmp_path / "list.json").write_text(json.dumps(features))
    (tmp_path / "one.geojson").write_text(json.dumps(features[0]))
    assert detect_format(tmp_path / "list.json") == "geojson"
    dataset = import_annotations(tmp_path / "list.json")
    assert (dataset.images[0].height, dataset.images[0].width) == (10, 24)  # from the extent
    assert any("extent" in w for w in dataset.report.warnings)
    assert import_annotations(tmp_path / "one.geojson").images[0].labels.max() == 1


def test_images_elsewhere_and_qupath_double_suffix(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "a.tif"), np.zeros((64, 48), np.uint8))
    document = json.dumps(qupath_sample()["features"][:1])
    (tmp_path / "ann" / "a.geojson").write_text(document)
    (tmp_path / "ann" / "a.tif.geojson").write_text(document)
    dataset = read_geojson(tmp_path / "ann", images_dir=tmp_path / "img")
    assert [(i.image_path.name, i.height, i.width) for i in dataset.images] == [("a.tif", 64, 48)] * 2


# --- hostile input ---------------------------------------------------------------------

def feature(geometry) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": {}}


@pytest.mark.parametrize("geometry, reason", [
    ({"type": "Polygon", "coordinates": [[[0, 0], [5, 5], [0, 0]]]}, "at least 3"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [5, "x"], [9, 0]]]}, "not a list of"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [5, None], [9, 0]]]}, "NaN"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [5, 1e12], [9, 0]]]}, "beyond 1e7"),
    ({"type": "Polygon", "coordinates": 7}, "not a list of rings"),
    ({"type": "Polygon", "coordinates": [[[[0, 0]]]]}, "malformed"),
    ({"type": "Circle", "coordinates": [1, 2]}, "not supported"),
    (None, "no geometry"),
    ({"type": "GeometryCollection", "geometries": "x"}, "GeometryCollection"),
])
def test_bad_geometries_are_skipped_with_a_reason(tmp_path, geometry, reason):
    good = feature({"type": "Polygon", "coordinates": [square(0, 0, 4, 4)]})
    (tmp_path / "a.geojson").write_text(json.dumps({"type": "FeatureCollection",
                                                     "features": [good, feature(geometry), 5]}))
    dataset = read_geojson(tmp_path / "a.geojson")
    reasons = [why for _, why in dataset.report.skipped]
    assert len(reasons) == 2 and reason in reasons[0] and "not a GeoJSON Feature" in reasons[1], reasons
    assert dataset.images[0].labels.max() == 1


def test_odd_property_types_are_tolerated(tmp_path):
    odd = {"type": "Feature", "id": [1], "geometry": {"type": "Polygon", "coordinates": [square(0, 0, 4, 4)]},
           "properties": {"objectType": 3, "classification": {"name": ["x"], "color": "red"},
                          "measurements": [{"name": [1], "value": 2}, {"name": "ok", "value": True}, 7]}}
    (tmp_path / "a.geojson").write_text(json.dumps([odd]))
    dataset = read_geojson(tmp_path / "a.geojson")
    assert dataset.classes[0].name == "Unclassified"
    assert dataset.images[0].instance_info[1] == {"objectType": "annotation"}


def test_deep_collections_and_too_many_points(tmp_path, monkeypatch):
    geometry: dict = {"type": "Polygon", "coordinates": [square(0, 0, 4, 4)]}
    for _ in range(20):
        geometry = {"type": "GeometryCollection", "geometries": [geometry]}
    many = feature({"type": "LineString", "coordinates": [[i % 50, i % 7] for i in range(5000)]})
    good = feature({"type": "Polygon", "coordinates": [square(0, 0, 4, 4)]})
    (tmp_path / "a.geojson").write_text(json.dumps([good, feature(geometry), many]))
    monkeypatch.setattr(geojson, "MAX_POINTS_PER_FEATURE", 1000)
    reasons = [why for _, why in read_geojson(tmp_path / "a.geojson").report.skipped]
    assert "nested too deeply" in reasons[0] and "more than 1,000 points" in reasons[1]


@pytest.mark.parametrize("text, message", [
    ("{not json", "malformed JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"type": "FeatureCollection", "features": 3}', "without a 'features' list"),
    ('{"type": "Topology"}', "not GeoJSON"),
    ('{"type": "FeatureCollection", "features": []}', "no geometry to size"),
    (json.dumps([feature({"type": "Point", "coordinates": [9e6, 9e6]})]), "above the limit"),
    (json.dumps({"type": "FeatureCollection", "seggui": {"imageHeight": 10**6, "imageWidth": 10**6},
                 "features": []}), "above the limit"),
])
def test_broken_files_raise_format_errors_naming_the_file(tmp_path, text, message):
    (tmp_path / "bad.geojson").write_text(text)
    with pytest.raises(FormatError, match=message) as caught:
        read_geojson(tmp_path / "bad.geojson")
    assert caught.value.path.endswith("bad.geojson")


def test_fuzzed_files_import_or_refuse_by_name(tmp_path):
    from tests.reliability.fuzz_runner import mutate_bytes, mutate_json

    seed = json.dumps(qupath_sample()).encode()
    generator = random.Random(5)
    outcomes = {"ok": 0, "refused": 0}
    for case in range(300):
        data, _ = (mutate_json if case % 3 else mutate_bytes)(seed, generator)
        path = tmp_path / f"case{case}.geojson"
        path.write_bytes(data)
        try:
            read_geojson(path)
            outcomes["ok"] += 1
        except SegguiError as error:
            assert path.name in str(error), error
            outcomes["refused"] += 1
    assert outcomes["ok"] > 100 and outcomes["refused"] > 10, outcomes


# --- CLI and detection ---------------------------------------------------------------

def test_cli_convert_to_and_from_geojson(shared_data, tmp_path, capsys):
    source = shared_data / "cells" / "dsb2018" / sorted(p.name for p in (shared_data / "cells" / "dsb2018").iterdir())[0]
    assert main(["convert", str(source), "--to", "geojson", "--out", str(tmp_path / "gj"),
                 "--qupath-object", "detection"]) == 0
    files = sorted((tmp_path / "gj").iterdir())
    assert len(files) == 1 and files[0].suffix == ".geojson" and detect_format(tmp_path / "gj") == "geojson"
    document = json.loads(files[0].read_text())
    assert {f["properties"]["objectType"] for f in document["features"]} == {"detection"}
    capsys.readouterr()
    assert main(["convert", str(tmp_path / "gj"), "--to", "coco", "--out", str(tmp_path / "c.json")]) == 0
    summary = capsys.readouterr().out.strip()
    assert summary.startswith(f"1 images, {len(document['features'])} instances")
    original = import_annotations(source).images[0].labels
    again = import_annotations(tmp_path / "c.json").images[0].labels
    assert np.array_equal(again > 0, original > 0)


def test_cli_help_lists_geojson(capsys):
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    out = capsys.readouterr().out
    assert "geojson" in out and "--qupath-object" in out
