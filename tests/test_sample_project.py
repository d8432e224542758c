"""The bundled sample project: built as a writable copy, bundled files never modified."""

import hashlib
import subprocess
import sys

import pytest

from seggui.core.errors import ProjectError
from seggui.core.project import Project
from seggui.sample_project import SAMPLE_RESOURCES, build_sample_project


def digest_tree(folder):
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_sample_project_has_imported_reviewed_and_new_images(tmp_path):
    before = digest_tree(SAMPLE_RESOURCES)
    project_folder = build_sample_project(tmp_path / "demo")
    project, document = Project.open(project_folder)
    statuses = {entry.name: entry.status for entry in document.images}
    assert set(statuses.values()) == {"reviewed", "new"}
    reviewed = [entry for entry in document.images if entry.status == "reviewed"]
    assert len(reviewed) >= 3
    for entry in reviewed:  # LabelMe and CVAT imports landed in the label layer
        assert entry.instance_count > 10
        assert entry.label_layers[0].classes[0].name in ("nucleus", "cell")
    assert any(entry.name.startswith("phase") for entry in reviewed)  # the CVAT import
    assert project.integrity_problems() == []
    assert all(entry.problem is None for entry in document.images)
    project.close()
    assert digest_tree(SAMPLE_RESOURCES) == before


def test_existing_copy_is_reused_and_reset_rebuilds(tmp_path):
    folder = tmp_path / "demo"
    project_folder = build_sample_project(folder)
    marker = project_folder / "marker"
    marker.write_text("user work")
    assert build_sample_project(folder) == project_folder and marker.exists()
    build_sample_project(folder, reset=True)
    assert not marker.exists()


def test_refuses_to_reset_a_folder_that_is_not_a_demo(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("precious")
    with pytest.raises(ProjectError):
        build_sample_project(tmp_path / "mine", reset=True)
    with pytest.raises(ProjectError):
        build_sample_project(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.docx").read_text() == "precious"


def test_demo_command_builds_without_gui(tmp_path):
    result = subprocess.run([sys.executable, "-m", "seggui", "demo", "--folder", str(tmp_path / "d"), "--no-gui"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("project")


def test_sample_is_small():
    size = sum(p.stat().st_size for p in SAMPLE_RESOURCES.rglob("*") if p.is_file())
    assert size < 4_000_000
