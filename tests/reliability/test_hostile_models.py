"""A model folder (card.json + weights.pt) mailed by someone else: it must not hang seggui,
fill its memory, reach outside the folder, or quietly give wrong results.

Each attack is built in its own temporary folder. Where a file outside the model folder
could be read or written, a `canary` folder beside it holds a model and files whose bytes
are checked afterwards; every test is bounded in time (pytest-timeout, explicit clocks).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seggui.cli import main as seggui_main  # noqa: E402
from seggui.core.errors import ModelError  # noqa: E402
from seggui.ml import checked_build  # noqa: E402
from seggui.ml.registry import list_models, load_model, model_from_folder, resolve_model  # noqa: E402
from seggui.ml.safe_load import load_weights  # noqa: E402
from seggui.ml.unet import UNet  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)
QUICK = 10.0  # seconds: a refusal is immediate; a FIFO read would block forever


# -- building blocks -------------------------------------------------------------------------
def unet_folder(folder: Path, card_changes: dict | None = None, architecture=(1, 3, 2, 4, True)) -> Path:
    model = UNet(*architecture)
    folder.mkdir(parents=True)
    torch.save(model.state_dict(), folder / "weights.pt")
    card = {"format": 1, "name": folder.name, "kind": "unet", "task": "instances", "architecture": model.config,
            "normalization": {"method": "percentile", "low_percentile": 1.0, "high_percentile": 99.8},
            "postprocess": {"foreground_threshold": 0.5, "seed_threshold": 0.5, "min_size": 4, "min_seed_size": 1}}
    card.update(card_changes or {})
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def canaries(root: Path) -> dict[Path, bytes]:
    """A usable model and a private file outside the attacked folder, named STOLEN."""
    folder = unet_folder(root / "canary", {"name": "STOLEN"})
    (folder / "private.txt").write_text("a colleague's file")
    return {path: path.read_bytes() for path in folder.iterdir()}


def assert_canaries_intact(files: dict[Path, bytes]) -> None:
    folder = next(iter(files)).parent
    assert sorted(folder.iterdir()) == sorted(files), "a file was added to or removed from the canary folder"
    for path, data in files.items():
        assert path.read_bytes() == data, f"{path} was changed"


def assert_no_reader(fifo: Path) -> None:
    """Opening a FIFO for writing without blocking fails with ENXIO while nobody reads it:
    proof that seggui did not leave an open (blocked) reader behind."""
    with pytest.raises(OSError) as caught:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert caught.value.errno == errno.ENXIO


def write_image(path: Path) -> Path:
    image = np.zeros((64, 64), np.uint8)
    cv2.circle(image, (32, 32), 10, 200, -1)
    cv2.imwrite(str(path), image)
    return path


def refusal(folder: Path) -> str:
    """The ModelError load_model raises for a folder, checked to be quick."""
    start = time.monotonic()
    with pytest.raises(ModelError) as caught:
        load_model(folder, "cpu")
    assert time.monotonic() - start < QUICK
    return str(caught.value)


# -- 1. FIFOs ----------------------------------------------------------------------------------
def test_fifo_card_is_listed_as_unavailable_and_refused_at_once(tmp_path):
    folder = tmp_path / "models" / "piped"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "card.json")
    start = time.monotonic()
    models = [m for m in list_models([tmp_path / "models"]) if m.folder == folder]
    info = model_from_folder(folder, "file")
    assert time.monotonic() - start < QUICK
    assert len(models) == 1 and not models[0].available  # listed, with the reason, not skipped
    for reason in (models[0].unavailable_reason, info.unavailable_reason):
        assert "card.json" in reason and "FIFO" in reason, reason
    with pytest.raises(ModelError, match="card.json"):
        resolve_model(folder)
    assert "FIFO" in refusal(folder)
    assert_no_reader(folder / "card.json")


def test_seggui_predict_refuses_a_fifo_card_without_hanging(tmp_path):
    folder = tmp_path / "piped"
    folder.mkdir()
    os.mkfifo(folder / "card.json")
    image = write_image(tmp_path / "cells.png")
    result = subprocess.run([sys.executable, "-m", "seggui", "predict", str(image), "--model", str(folder),
                             "--out", str(tmp_path / "out"), "--device", "cpu"],
                            capture_output=True, text=True, timeout=90, cwd=REPO)
    assert result.returncode == 2, result.stderr
    assert "card.json" in result.stderr and "FIFO" in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_reader(folder / "card.json")


def test_fifo_weights_are_unavailable_and_never_opened_blocking(tmp_path):
    folder = unet_folder(tmp_path / "piped")
    (folder / "weights.pt").unlink()
    os.mkfifo(folder / "weights.pt")
    start = time.monotonic()
    info = model_from_folder(folder, "file")
    assert time.monotonic() - start < QUICK
    assert not info.available and "weights.pt" in info.unavailable_reason and "FIFO" in info.unavailable_reason
    assert "weights.pt" in refusal(folder)
    with pytest.raises(ModelError, match="FIFO"):  # the loader itself refuses it too
        load_weights(folder / "weights.pt")
    assert_no_reader(folder / "weights.pt")


# -- 2. huge files -------------------------------------------------------------------------------
def test_sparse_3_gib_card_is_refused_by_its_size(tmp_path):
    folder = tmp_path / "huge"
    folder.mkdir()
    with open(folder / "card.json", "wb") as handle:
        handle.truncate(3 * 2**30)  # sparse: takes no disk space, but reading it would take 3 GiB
    start = time.monotonic()
    info = model_from_folder(folder, "file")
    assert time.monotonic() - start < QUICK
    assert not info.available
    assert "card.json" in info.unavailable_reason and "above the limit" in info.unavailable_reason
    assert "1,048,576" in info.unavailable_reason
    assert "above the limit" in refusal(folder)


def test_weights_size_is_bounded_and_the_bound_can_be_raised(tmp_path, monkeypatch):
    folder = unet_folder(tmp_path / "huge")
    with open(folder / "weights.pt", "r+b") as handle:
        handle.truncate(3 * 2**30)
    message = refusal(folder)
    assert "weights.pt" in message and "above the limit" in message and "SEGGUI_MAX_WEIGHTS_MB" in message

    small = unet_folder(tmp_path / "small")
    monkeypatch.setenv("SEGGUI_MAX_WEIGHTS_MB", "0.001")  # ~1 kB: the tiny U-Net is larger
    assert "above the limit" in refusal(small)
    monkeypatch.setenv("SEGGUI_MAX_WEIGHTS_MB", "many")
    assert "SEGGUI_MAX_WEIGHTS_MB" in refusal(small)
    monkeypatch.setenv("SEGGUI_MAX_WEIGHTS_MB", "5")
    assert load_model(small, "cpu") is not None


def test_weights_that_inflate_far_beyond_their_size_are_refused(tmp_path, monkeypatch):
    """torch reads deflated zip records, inflating them in memory: 100 kB can stand for 40 MB."""
    folder = unet_folder(tmp_path / "bomb")
    plain = tmp_path / "plain.pt"
    torch.save({"head.weight": torch.zeros(10_000_000)}, plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(folder / "weights.pt", "w", zipfile.ZIP_DEFLATED) as out:
        for name in source.namelist():
            out.writestr(name, source.read(name))
    assert (folder / "weights.pt").stat().st_size < 1 * 2**20
    monkeypatch.setenv("SEGGUI_MAX_WEIGHTS_MB", "10")
    message = refusal(folder)
    assert "unpacks to" in message and "weights.pt" in message


# -- 3. links out of the folder -------------------------------------------------------------------
@pytest.mark.parametrize("linked", ["weights.pt", "card.json"])
def test_a_file_linked_to_outside_the_folder_is_refused(tmp_path, linked):
    outside = canaries(tmp_path)
    folder = unet_folder(tmp_path / "mailed")
    (folder / linked).unlink()
    (folder / linked).symlink_to(tmp_path / "canary" / linked)
    info = model_from_folder(folder, "file")
    assert not info.available, "a file outside the model folder was used"
    assert linked in info.unavailable_reason and "outside the folder" in info.unavailable_reason
    assert info.name != "STOLEN"
    assert linked in refusal(folder)
    assert_canaries_intact(outside)


def test_a_link_that_stays_inside_the_folder_still_works(tmp_path):
    folder = unet_folder(tmp_path / "mailed")
    (folder / "weights.pt").rename(folder / "best.pt")
    (folder / "weights.pt").symlink_to("best.pt")
    assert model_from_folder(folder, "file").available
    assert load_model(folder, "cpu") is not None


# -- 4. memory from small files: checked before built ---------------------------------------------
CHECK_BEFORE_BUILD = textwrap.dedent("""
    import json, sys
    from seggui.core.errors import ModelError
    from seggui.ml.registry import load_model
    messages = {}
    for folder in sys.argv[1:]:
        try:
            load_model(folder, "cpu")
            messages[folder] = "LOADED"
        except ModelError as error:
            messages[folder] = str(error)
    # VmHWM, not ru_maxrss: ru_maxrss keeps the size of the (large) pytest process it forked from.
    peak_mb = [int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    print(json.dumps({"messages": messages, "peak_mb": peak_mb}))
""")


def test_a_huge_unet_card_with_small_weights_is_refused_before_it_is_built(tmp_path):
    """width 160, depth 5 passes the card's size checks but is ~900M parameters (3.6 GB)."""
    huge = unet_folder(tmp_path / "huge", {"architecture": {"in_channels": 1, "classes": 3, "depth": 5,
                                                            "width": 160, "distance_head": True}})
    wider = unet_folder(tmp_path / "wider", {"architecture": {"in_channels": 1, "classes": 3, "depth": 2,
                                                              "width": 8, "distance_head": True}})
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", CHECK_BEFORE_BUILD, str(huge), str(wider)],
                            capture_output=True, text=True, timeout=90, cwd=REPO)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert time.monotonic() - start < 60
    for folder in (huge, wider):
        message = report["messages"][str(folder)]
        assert "weights.pt" in message, message
        assert "parameters" in message or "do not match" in message, message
    # torch itself takes a few hundred MB; the network would have taken 3.6 GB more.
    assert report["peak_mb"] < 2000, report


def test_the_parameter_budget_applies_even_when_weights_match(tmp_path, monkeypatch):
    folder = unet_folder(tmp_path / "big")
    monkeypatch.setattr(checked_build, "PARAMETER_BUDGET", 1000)
    message = refusal(folder)
    assert "parameters, above the limit of 1,000" in message and "weights.pt" in message


@pytest.mark.parametrize("kind", ["deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50", "maskrcnn_resnet50_fpn"])
@pytest.mark.parametrize("classes", [10_000_000, 1001, 1, True])
def test_absurd_class_counts_are_refused_by_the_card_check(tmp_path, kind, classes):
    folder = tmp_path / "classes"
    folder.mkdir()
    torch.save({"x": torch.zeros(1)}, folder / "weights.pt")
    (folder / "card.json").write_text(json.dumps({"format": 1, "name": "c", "kind": kind,
                                                  "architecture": {"num_classes": classes}}))
    info = model_from_folder(folder, "file")
    assert not info.available and "num_classes" in info.unavailable_reason and "card.json" in info.unavailable_reason
    assert "num_classes" in refusal(folder)


def test_torchvision_weights_of_other_class_count_are_refused_before_building(tmp_path, monkeypatch):
    from seggui.ml import torchvision_models

    folder = tmp_path / "deeplab"
    folder.mkdir()
    with torch.device("meta"):  # only the shapes matter; saving meta tensors is not possible
        shapes = torchvision_models.build("deeplabv3_mobilenet_v3_large", 2).state_dict()
    torch.save({k: torch.zeros(v.shape, dtype=v.dtype) for k, v in shapes.items()}, folder / "weights.pt")
    (folder / "card.json").write_text(json.dumps({"format": 1, "name": "d", "kind": "deeplabv3_mobilenet_v3_large",
                                                  "architecture": {"num_classes": 900}}))
    built = []
    real_build = torchvision_models.build
    monkeypatch.setattr(torchvision_models, "build",
                        lambda *a, **k: built.append(str(torch.empty(0).device)) or real_build(*a, **k))
    message = refusal(folder)
    assert "do not match" in message and "900 classes" in message and "weights.pt" in message
    assert built == ["meta"], "a real network was built before the weights were compared"


def test_weights_with_non_string_keys_are_refused(tmp_path):
    folder = unet_folder(tmp_path / "keys")
    torch.save({1: torch.zeros(1)}, folder / "weights.pt")
    assert "state dict" in refusal(folder)


# -- 5. post-processing values that would quietly give no cells -----------------------------------
@pytest.mark.parametrize("key, value", [
    ("foreground_threshold", float("nan")),
    ("foreground_threshold", float("inf")),
    ("foreground_threshold", 1.0),
    ("foreground_threshold", -0.1),
    ("seed_threshold", float("nan")),
    ("seed_threshold", 7),
    ("min_size", -1),
    ("min_size", 2.5),
    ("min_size", "12"),
    ("min_size", float("inf")),
    ("min_seed_size", 10**12),
    ("smoothing_sigma", 1e9),
    ("block_size", 0),
    ("min_distance", -3),
    ("method", "magic"),
    ("a_future_setting", float("nan")),
])
def test_postprocess_values_must_be_finite_and_in_range(tmp_path, key, value):
    folder = unet_folder(tmp_path / "thresholds")
    card = json.loads((folder / "card.json").read_text())
    card["postprocess"][key] = value
    (folder / "card.json").write_text(json.dumps(card))  # json writes NaN / Infinity, and reads them back
    info = model_from_folder(folder, "file")
    assert not info.available
    assert key in info.unavailable_reason and "card.json" in info.unavailable_reason, info.unavailable_reason
    assert key in refusal(folder)


def test_seggui_predict_with_a_nan_threshold_fails_instead_of_finding_no_cells(tmp_path, capsys):
    folder = unet_folder(tmp_path / "nan", {"postprocess": {"foreground_threshold": float("nan")}})
    image = write_image(tmp_path / "cells.png")
    code = seggui_main(["predict", str(image), "--model", str(folder), "--out", str(tmp_path / "out"),
                        "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "foreground_threshold" in err and "card.json" in err
    assert "segmented" not in err and not (tmp_path / "out" / "cells.png").exists()


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"format": ' + "9" * 5000 + "}"])
def test_cards_that_break_the_json_parser_are_refused(tmp_path, text):
    folder = unet_folder(tmp_path / "parser")
    (folder / "card.json").write_text(text)
    info = model_from_folder(folder, "file")
    assert not info.available and "card.json" in info.unavailable_reason


# -- 6. project catalogue rows naming folders outside the project ---------------------------------
@pytest.fixture
def project(tmp_path):
    from seggui.core.project import Project

    project = Project.create(tmp_path / "project")
    yield project
    project.close()


def outside_rows(tmp_path, project) -> dict[str, str]:
    """Catalogue rows for the canary model: absolute, ../, and a link inside models/."""
    from seggui.core import records

    link = project.folder / "models" / "linked"
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(tmp_path / "canary", target_is_directory=True)
    rows = {}
    for path in (str(tmp_path / "canary"), "../canary", "models/linked"):
        card = json.loads((tmp_path / "canary" / "card.json").read_text())
        rows[records.add_model_version(project.connection, f"v-{len(rows)}", path, card).id] = path
    return rows


def test_versions_outside_the_project_are_unavailable_and_cannot_be_made_active(tmp_path, project):
    from seggui.core import records
    from seggui.ui import model_catalogue as catalogue

    outside = canaries(tmp_path)
    rows = outside_rows(tmp_path, project)
    for version in records.model_versions(project.connection):
        info = catalogue.version_info(version, project)
        assert not info.available and "outside the project" in info.unavailable_reason, version.path
        assert info.folder is None and info.weights is None  # nothing a loader could be handed
        with pytest.raises(ModelError, match="outside the project"):
            catalogue.activate_version(project, version.id)
    assert not any(v.active for v in records.model_versions(project.connection))
    listed = [m for m in catalogue.available_models(project) if m.source == "project"]
    assert len(listed) == len(rows) and not any(m.available for m in listed)
    assert_canaries_intact(outside)


def test_an_outside_version_marked_active_in_the_catalogue_is_not_the_default(tmp_path, project):
    from seggui.core import records
    from seggui.ui import model_catalogue as catalogue

    canaries(tmp_path)
    card = json.loads((tmp_path / "canary" / "card.json").read_text())
    records.add_model_version(project.connection, "evil", str(tmp_path / "canary"), card, activate=True)
    chosen = catalogue.default_model(catalogue.available_models(project), project)
    assert chosen is not None and chosen.source != "project" and chosen.name != "STOLEN"


def test_versions_inside_the_project_still_load_and_activate(tmp_path, project):
    from seggui.core import records
    from seggui.ui import model_catalogue as catalogue

    unet_folder(project.folder / "models" / "v1")
    card = json.loads((project.folder / "models" / "v1" / "card.json").read_text())
    relative = records.add_model_version(project.connection, "v1", "models/v1", card)
    absolute = records.add_model_version(project.connection, "v1-abs", str(project.folder / "models" / "v1"), card)
    for version in (relative, absolute):
        info = catalogue.version_info(version, project)
        assert info.available, info.unavailable_reason
        catalogue.activate_version(project, version.id)
        assert catalogue.active_version(project).id == version.id
        assert load_model(catalogue.model_reference(info), "cpu") is not None


def test_import_model_folder_refuses_a_folder_with_a_link_outside(tmp_path, project):
    from seggui.ui import model_catalogue as catalogue

    outside = canaries(tmp_path)
    folder = unet_folder(tmp_path / "mailed")
    (folder / "weights.pt").unlink()
    (folder / "weights.pt").symlink_to(tmp_path / "canary" / "weights.pt")
    with pytest.raises(ModelError, match="outside the folder"):
        catalogue.import_model_folder(project, folder)
    assert not (project.folder / "models").exists() or not any((project.folder / "models").iterdir())
    assert_canaries_intact(outside)


def test_import_model_folder_never_names_a_version_dot_dot(tmp_path, project):
    from seggui.ui import model_catalogue as catalogue

    folder = unet_folder(tmp_path / "mailed", {"name": ".."})
    version = catalogue.import_model_folder(project, folder)
    assert version.path.startswith("models/") and ".." not in Path(version.path).parts
    assert catalogue.version_info(version, project).available
