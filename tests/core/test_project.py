import os
import sqlite3

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from seggui.core import catalogue
from seggui.core.annotation import LabelClass, VectorShape
from seggui.core.atomic import atomic_write_bytes
from seggui.core.document import Document
from seggui.core.errors import ImageReadError, ProjectError
from seggui.core.layers import LabelLayer
from seggui.core.project import Project


def make_images(folder, count=2, shape=(40, 50), dtype=np.uint16):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        array = (np.random.default_rng(index).integers(0, 4000, shape)).astype(dtype)
        path = folder / f"img{index}.png"
        cv2.imwrite(str(path), array)
        paths.append(path)
    return paths


def new_project(tmp_path, count=2):
    images = make_images(tmp_path / "images", count)
    project = Project.create(tmp_path / "project")
    document = Document()
    added, problems = project.add_images(document, images)
    assert problems == []
    return project, document, added


label_images = st.integers(0, 3).flatmap(lambda kind: st.builds(
    lambda seed, max_id: np.random.default_rng(seed).integers(0, max_id + 1, (40, 50)).astype(
        np.uint32 if max_id > 65535 else np.uint16),
    st.integers(0, 10_000), st.sampled_from([0, 1, 255, 65535, 70_000, 2**32 - 1])))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=label_images, status=st.sampled_from(["new", "predicted", "reviewed"]),
       opacity=st.floats(0, 1), names=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=3, unique=True))
def test_round_trip_is_bit_exact(tmp_path_factory, labels, status, opacity, names):
    tmp_path = tmp_path_factory.mktemp("rt")
    project, document, (entry, _) = new_project(tmp_path)
    layer = entry.label_layers[0]
    layer.replace_data(labels)
    classes = [LabelClass(i + 1, name, (i * 40 % 256, 20, 200)) for i, name in enumerate(names)]
    document.set_classes(layer, classes)
    layer.set_instance_class(3, len(classes))
    layer.instance_info[3] = {"occluded": True, "attributes": {"note": "ünïcode"}}
    layer.vectors.append(VectorShape("point", np.array([[1.5, 2.5]]), 1, "centre"))
    document.set_layer_property(layer, "opacity", opacity)
    document.set_status(entry, status, model="nuclei@1" if status == "predicted" else None)
    second = LabelLayer(np.flipud(labels).copy(), name="second opinion")
    document.add_layer(entry, second)
    project.save(document)
    project.close()

    reopened_project, reopened = Project.open(tmp_path / "project")
    assert [e.id for e in reopened.images] == [e.id for e in document.images]
    again = reopened.images[0]
    assert again.status == status and again.status_model == entry.status_model
    assert [l.name for l in again.layers] == [l.name for l in entry.layers]
    for original, loaded in zip(entry.label_layers, again.label_layers):
        assert loaded.data.dtype == original.data.dtype
        np.testing.assert_array_equal(loaded.data, original.data)
        assert loaded.classes == original.classes
        assert loaded.instance_classes == original.instance_classes
        assert loaded.opacity == pytest.approx(original.opacity)
    assert again.label_layers[0].instance_info[3]["attributes"]["note"] == "ünïcode"
    assert again.label_layers[0].vectors[0].label == "centre"
    assert reopened_project.integrity_problems() == []
    assert not reopened.dirty
    reopened_project.close()


def test_failed_save_leaves_previous_files_and_catalogue_intact(tmp_path, monkeypatch):
    project, document, (entry, _) = new_project(tmp_path)
    layer = entry.label_layers[0]
    layer.data[5:10, 5:10] = 1
    layer.version += 1
    project.save(document)
    saved = layer.data.copy()
    files_before = sorted(os.listdir(tmp_path / "project" / "masks"))

    from seggui.core.paint import StrokeRecorder

    recorder = StrokeRecorder(layer, 2, 4)
    recorder.add_point(25, 25)
    document.undo_stack.push(recorder.finish())
    import seggui.core.project as project_module

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project_module, "atomic_write_bytes", crash)
    with pytest.raises(OSError):
        project.save(document)
    assert document.dirty  # edits stay in memory, still marked unsaved
    assert layer.data[25, 25] == 2
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path / "project" / "masks")) == files_before
    project.close()
    _, reopened = Project.open(tmp_path / "project")
    np.testing.assert_array_equal(reopened.images[0].label_layers[0].data, saved)


def test_interrupted_atomic_write_keeps_old_file(tmp_path):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old content")

    class Boom(Exception):
        pass

    from seggui.core.atomic import atomic_open

    with pytest.raises(Boom):
        with atomic_open(target) as handle:
            handle.write(b"half of the new")
            raise Boom()
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_read_only_folder_reports_and_keeps_edits(tmp_path, monkeypatch):
    # Simulated (CI runs as root, which ignores folder permissions).
    import seggui.core.atomic as atomic_module

    project, document, (entry, _) = new_project(tmp_path)
    entry.label_layers[0].data[0, 0] = 1

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic_module.tempfile, "mkstemp", read_only)
    with pytest.raises(ProjectError, match="cannot write here"):
        project.save(document)
    assert entry.label_layers[0].data[0, 0] == 1
    assert document.dirty


def test_moved_and_changed_images_are_reported(tmp_path):
    project, document, (first, second) = new_project(tmp_path)
    project.save(document)
    project.close()
    first.source.path.unlink()
    changed = np.full((40, 50), 7, np.uint16)
    cv2.imwrite(str(second.source.path), changed)
    os.utime(second.source.path, ns=(1, 1))
    _, reopened = Project.open(tmp_path / "project")
    one, two = reopened.images
    assert "not found" in one.problem
    assert "changed" in two.problem
    with pytest.raises(ImageReadError, match="img0.png"):
        one.layers
    with pytest.raises(ImageReadError, match="content changed"):
        two.layers


def test_project_folder_moved_with_its_images_still_opens(tmp_path):
    project, document, _ = new_project(tmp_path)
    project.save(document)
    project.close()
    # Images inside the project folder travel with it (relative paths).
    moved_root = tmp_path / "moved"
    moved_root.mkdir()
    (tmp_path / "project").rename(moved_root / "project")
    (tmp_path / "images").rename(moved_root / "images")
    _, reopened = Project.open(moved_root / "project")
    assert all(entry.problem is None for entry in reopened.images)
    assert reopened.images[0].image_layer.data.shape == (40, 50)


def test_bad_inputs_change_nothing(tmp_path):
    project, document, _ = new_project(tmp_path)
    (tmp_path / "fake.png").write_text("not an image")
    added, problems = project.add_images(document, [tmp_path / "fake.png", tmp_path / "missing.tif"])
    assert added == [] and len(problems) == 2
    assert "fake.png" in problems[0] and "missing.tif" in problems[1]
    assert len(document.images) == 2
    added, problems = project.add_images(document, [tmp_path / "images" / "img0.png"])
    assert added == [] and "already in the project" in problems[0]


def test_not_a_project_newer_format_and_damaged_catalogue(tmp_path):
    with pytest.raises(ProjectError, match="not a seggui project"):
        Project.open(tmp_path)
    project, document, _ = new_project(tmp_path)
    project.save(document)
    project.connection.execute("UPDATE meta SET value='99' WHERE key='format_version'")
    project.close()
    with pytest.raises(ProjectError, match="newer seggui"):
        Project.open(tmp_path / "project")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / catalogue.CATALOGUE_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ProjectError, match="damaged"):
        Project.open(bad)


def test_orphan_masks_from_a_crash_are_removed_and_integrity_checked(tmp_path):
    project, document, (entry, _) = new_project(tmp_path)
    entry.label_layers[0].data[1, 1] = 3
    project.save(document)
    orphan = tmp_path / "project" / "masks" / "deadbeef-12345678.png"
    orphan.write_bytes(b"left by a crash")
    assert "deadbeef-12345678.png" in project.remove_orphan_masks()
    assert project.integrity_problems() == []
    mask_file = next((tmp_path / "project" / "masks").iterdir())
    mask_file.write_bytes(b"garbage")
    assert len(project.integrity_problems()) == 1


def test_only_changed_layers_are_rewritten(tmp_path):
    project, document, (first, second) = new_project(tmp_path)
    first.layers, second.layers
    project.save(document)
    names = set(os.listdir(tmp_path / "project" / "masks"))
    first.label_layers[0].data[0, 0] = 1
    first.label_layers[0].version += 1
    project.save(document)
    after = set(os.listdir(tmp_path / "project" / "masks"))
    assert len(after - names) == 1 and len(after) == 2


def test_wal_mode(tmp_path):
    project, document, _ = new_project(tmp_path)
    mode = project.connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert isinstance(project.connection, sqlite3.Connection)


def test_model_versions_and_jobs_are_recorded(tmp_path):
    from seggui.core import records

    project, document, _ = new_project(tmp_path)
    first = records.add_model_version(project.connection, "nuclei-ft1", "models/ft1", {"val_ap50": 0.5})
    second = records.add_model_version(project.connection, "nuclei-ft2", "models/ft2", {"val_ap50": 0.6},
                                       activate=True)
    assert [v.active for v in records.model_versions(project.connection)] == [False, True]
    records.set_active_model(project.connection, first.id)  # rollback
    assert [v.active for v in records.model_versions(project.connection)] == [True, False]
    with pytest.raises(KeyError):
        records.set_active_model(project.connection, "nope")
    job = records.start_job(project.connection, "train", ["seggui", "train"])
    assert records.mark_interrupted_jobs(project.connection) == [job]
    (record,) = records.jobs(project.connection)
    assert record.status == "failed" and "interrupted" in record.log_tail
    assert second.name == "nuclei-ft2"


def test_reviewed_samples_lists_reviewed_images_with_their_labels(tmp_path):
    from seggui.core.label_codec import read_label_image
    from seggui.core.errors import TrainingError
    from seggui.core.training_set import reviewed_samples

    project, document, (first, second) = new_project(tmp_path)
    first.label_layers[0].data[3:6, 3:6] = 4
    first.label_layers[0].version += 1
    document.set_status(first, "reviewed")
    project.save(document)
    (sample,) = reviewed_samples(tmp_path / "project")
    assert sample.image_path == first.source.path
    assert read_label_image(sample.mask_path)[4, 4] == 4
    document.set_status(second, "reviewed")  # reviewed but never opened: no saved labels
    project.save(document)
    with pytest.raises(TrainingError, match="no saved labels"):
        reviewed_samples(tmp_path / "project")
