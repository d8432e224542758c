"""A project folder crafted by someone else: it must not reach outside itself, hang, or crash.

Each attack is built in its own temporary folder beside a `canary` folder whose files prove
that nothing outside the project was read into labels, written or deleted. Every open is
also bounded in time (pytest-timeout and explicit wall-clock checks).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from seggui.core import catalogue as cat
from seggui.core.document import Document
from seggui.core.errors import ImageReadError, ProjectError, SegguiError, TrainingError
from seggui.core.instance_edits import change_command
from seggui.core.layers import LabelLayer
from seggui.core.project import MASKS_FOLDER, Project
from seggui.core.training_set import reviewed_samples

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


# -- building blocks -------------------------------------------------------------------------
def canaries(root: Path) -> dict[Path, bytes]:
    """Files outside the project; their bytes are checked after each attack."""
    folder = root / "canary"
    folder.mkdir()
    files = {}
    for index in range(5):
        path = folder / f"precious-{index}.txt"
        path.write_bytes(f"a colleague's file {index}".encode())
        files[path] = path.read_bytes()
    labels = np.zeros((32, 40), np.uint16)
    labels[2:9, 3:12] = 9
    ok, data = cv2.imencode(".png", labels)
    (folder / "OUTSIDE.png").write_bytes(data.tobytes())
    files[folder / "OUTSIDE.png"] = data.tobytes()
    return files


def assert_canaries_intact(files: dict[Path, bytes]) -> None:
    folder = next(iter(files)).parent
    assert sorted(folder.iterdir()) == sorted(files), "a file was added to or removed from the canary folder"
    for path, data in files.items():
        assert path.read_bytes() == data, f"{path} was changed"


def make_project(root: Path, images: int = 2, painted: bool = True) -> Path:
    (root / "images").mkdir()
    for index in range(images):
        cv2.imwrite(str(root / "images" / f"image{index}.png"), np.full((32, 40), 20 + 10 * index, np.uint8))
    project = Project.create(root / "project")
    document = Document()
    project.add_images(document, [root / "images"])
    if painted:
        for entry in document.images:
            paint(entry.label_layers[0], 3)
    document.set_status(document.images[0], "reviewed")
    project.save(document)
    project.close()
    return root / "project"


def paint(layer: LabelLayer, value: int) -> None:
    rect = (4, 5, 14, 20)
    y0, x0, y1, x1 = rect
    change_command(layer, rect, np.full((y1 - y0, x1 - x0), value, layer.data.dtype), "paint").redo()


def edit_catalogue(project: Path, *statements: str, parameters: tuple = ()) -> None:
    connection = sqlite3.connect(project / cat.CATALOGUE_NAME)
    try:
        for statement in statements:
            connection.execute(statement, parameters if "?" in statement else ())
        connection.commit()
    finally:
        connection.close()


def first_label_layer(project: Path) -> tuple[str, str]:
    connection = sqlite3.connect(project / cat.CATALOGUE_NAME)
    try:
        # The reviewed image's layer: the one training (reviewed_samples) reads too.
        return connection.execute(
            "SELECT layers.id, layers.mask_file FROM layers JOIN images ON layers.image_id = images.id "
            "WHERE layers.kind='labels' AND images.status='reviewed'").fetchone()
    finally:
        connection.close()


def refused(call, *words: str, error_type=SegguiError, seconds: float = 10.0) -> SegguiError:
    start = time.monotonic()
    with pytest.raises(error_type) as caught:
        call()
    assert time.monotonic() - start < seconds, "refusing took too long"
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return caught.value


def run_seggui(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seggui", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


# -- 1. opening deletes files elsewhere --------------------------------------------------------
@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_masks_folder_linked_elsewhere_is_refused_and_nothing_is_deleted(tmp_path, how):
    files = canaries(tmp_path)
    project = make_project(tmp_path)
    for name in list((project / MASKS_FOLDER).iterdir()):
        shutil.move(str(name), str(tmp_path / "canary" / name.name))  # the attacker's "masks" live there
    files.update({p: p.read_bytes() for p in (tmp_path / "canary").iterdir() if p not in files})
    (project / MASKS_FOLDER).rmdir()
    target = Path("../canary") if how == "relative" else (tmp_path / "canary").resolve()
    (project / MASKS_FOLDER).symlink_to(target, target_is_directory=True)
    error = refused(lambda: Project.open(project), "symbolic link", error_type=ProjectError)
    assert "did not finish" not in str(error)
    assert_canaries_intact(files)


def test_clean_up_deletes_only_files_seggui_writes(tmp_path):
    project = make_project(tmp_path)
    masks = project / MASKS_FOLDER
    (masks / "my-notes.txt").write_text("kept")
    (masks / "README").write_text("kept")
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"kept")
    (masks / "0123456789ab-0badf00d.png").symlink_to(outside)  # a seggui-shaped name that is a link
    opened, _ = Project.open(project)
    opened.close()
    assert (masks / "my-notes.txt").exists() and (masks / "README").exists()
    assert outside.read_bytes() == b"kept"


# -- 2. writes escape the project --------------------------------------------------------------
def test_mask_file_pointing_outside_is_refused_before_save_as_can_overwrite(tmp_path):
    files = canaries(tmp_path)
    project = make_project(tmp_path)
    layer_id, _ = first_label_layer(project)
    edit_catalogue(project, "UPDATE layers SET mask_file=? WHERE id=?",
                   parameters=("../../canary/precious-0.txt", layer_id))
    refused(lambda: Project.open(project), "not a file seggui writes", error_type=ProjectError)
    assert_canaries_intact(files)


def test_layer_id_with_path_parts_is_refused_at_open(tmp_path):
    files = canaries(tmp_path)
    project = make_project(tmp_path)
    layer_id, _ = first_label_layer(project)
    edit_catalogue(project, "UPDATE layers SET id='../../../canary/pwn', mask_file=NULL WHERE id=?",
                   parameters=(layer_id,))
    refused(lambda: Project.open(project), "not a plain identifier", error_type=ProjectError)
    assert_canaries_intact(files)
    assert not list(tmp_path.rglob("pwn*"))


def test_a_layer_id_with_path_parts_never_names_a_file_on_save(tmp_path):
    files = canaries(tmp_path)
    project_folder = make_project(tmp_path)
    project, document = Project.open(project_folder)
    hostile = LabelLayer.empty((32, 40), name="hostile", layer_id="../../canary/pwn")
    paint(hostile, 5)
    document.images[1].layers.append(hostile)
    refused(lambda: project.save(document), "cannot name a file", error_type=ProjectError)
    project.close()
    assert_canaries_intact(files)
    assert not list(tmp_path.rglob("pwn*"))
    reopened, again = Project.open(project_folder)  # the failed save changed nothing
    assert int(again.images[0].label_layers[0].data.max()) == 3
    reopened.close()


def test_save_as_copies_only_from_and_into_the_masks_folders(tmp_path):
    files = canaries(tmp_path)
    project_folder = make_project(tmp_path)
    project, document = Project.open(project_folder)
    project._mask_files["0123456789ab"] = "../../canary/precious-1.txt"  # a row changed after open
    refused(lambda: project.save_as(document, tmp_path / "copy"), "not a file seggui writes", error_type=ProjectError)
    project.close()
    assert_canaries_intact(files)


# -- 3. reads escape the project ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../canary/OUTSIDE.png", "CANARY_ABSOLUTE"])
def test_mask_file_outside_is_not_read_as_labels(tmp_path, name):
    files = canaries(tmp_path)
    project = make_project(tmp_path)
    layer_id, _ = first_label_layer(project)
    if name == "CANARY_ABSOLUTE":
        name = str(tmp_path / "canary" / "OUTSIDE.png")
    edit_catalogue(project, "UPDATE layers SET mask_file=? WHERE id=?", parameters=(name, layer_id))
    refused(lambda: Project.open(project), "not a file seggui writes", error_type=ProjectError)
    refused(lambda: reviewed_samples(project), "not a file seggui writes", error_type=ProjectError)
    assert_canaries_intact(files)


def test_symlinked_mask_file_is_not_read_as_labels(tmp_path):
    files = canaries(tmp_path)
    project = make_project(tmp_path)
    _, mask_file = first_label_layer(project)
    (project / MASKS_FOLDER / mask_file).unlink()
    (project / MASKS_FOLDER / mask_file).symlink_to(tmp_path / "canary" / "OUTSIDE.png")
    opened, document = Project.open(project)
    entry = next(e for e in document.images if e.id in _image_of(project, mask_file))
    refused(lambda: entry.layers, "symbolic link", error_type=ProjectError)
    assert opened.integrity_problems() and "symbolic link" in opened.integrity_problems()[0]
    opened.close()
    refused(lambda: reviewed_samples(project), "symbolic link", error_type=ProjectError)
    assert_canaries_intact(files)
    assert (project / MASKS_FOLDER / mask_file).is_symlink()  # not deleted either: not seggui's to remove


def _image_of(project: Path, mask_file: str) -> set[str]:
    connection = sqlite3.connect(project / cat.CATALOGUE_NAME)
    try:
        return {r[0] for r in connection.execute("SELECT image_id FROM layers WHERE mask_file=?", (mask_file,))}
    finally:
        connection.close()


def test_train_cli_refuses_a_project_reading_outside_masks(tmp_path):
    files = canaries(tmp_path)
    project = make_project(tmp_path)
    layer_id, _ = first_label_layer(project)
    edit_catalogue(project, "UPDATE layers SET mask_file=? WHERE id=?",
                   parameters=("../../canary/OUTSIDE.png", layer_id))
    result = run_seggui("train", "--project", str(project), "--out", str(tmp_path / "model"), "--minutes", "0.05")
    assert result.returncode == 2, result.stderr
    assert "not a file seggui writes" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "model" / "weights.pt").exists()
    assert_canaries_intact(files)


# -- 4. the catalogue is trusted too much ------------------------------------------------------
def test_catalogue_linked_to_another_database_is_refused_without_touching_it(tmp_path):
    project = make_project(tmp_path)
    other = tmp_path / "canary-db.sqlite"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE precious (x)")
    connection.execute("INSERT INTO precious VALUES (1)")
    connection.commit()
    connection.close()
    before = other.read_bytes()
    (project / cat.CATALOGUE_NAME).unlink()
    (project / cat.CATALOGUE_NAME).symlink_to(other)
    refused(lambda: Project.open(project), "symbolic link", error_type=ProjectError)
    assert other.read_bytes() == before  # not switched to WAL mode, not touched at all
    assert not Path(str(other) + "-wal").exists()


def test_a_trigger_is_refused_at_open(tmp_path):
    project = make_project(tmp_path)
    edit_catalogue(project, "CREATE TRIGGER rename AFTER INSERT ON layers BEGIN "
                            "UPDATE layers SET mask_file='x' WHERE id=new.id; END")
    refused(lambda: Project.open(project), "trigger", error_type=ProjectError)


def test_a_save_whose_rows_are_changed_behind_its_back_fails_and_keeps_the_labels(tmp_path):
    project_folder = make_project(tmp_path)
    project, document = Project.open(project_folder)
    entry = document.images[0]
    paint(entry.label_layers[0], 8)
    # A second writer adds a trigger after the open checked the schema.
    edit_catalogue(project_folder, "CREATE TRIGGER rename AFTER INSERT ON layers BEGIN "
                                   "UPDATE layers SET mask_file=NULL WHERE id=new.id; END")
    refused(lambda: project.save(document), "did not keep what was saved", error_type=ProjectError)
    project.close()
    edit_catalogue(project_folder, "DROP TRIGGER rename")
    reopened, again = Project.open(project_folder)
    assert int(again.images[0].label_layers[0].data.max()) == 3  # the last good save, intact
    assert not reopened.integrity_problems()
    reopened.close()


def test_a_write_ahead_log_from_another_project_is_not_replayed(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    mine = make_project(tmp_path / "a")
    theirs = make_project(tmp_path / "b")
    before = (mine / cat.CATALOGUE_NAME).read_bytes()
    # Leave a log in the other project: save, then copy the log while it is still open.
    project, document = Project.open(theirs)
    paint(document.images[1].label_layers[0], 6)
    project.save(document)
    shutil.copyfile(theirs / (cat.CATALOGUE_NAME + "-wal"), mine / (cat.CATALOGUE_NAME + "-wal"))
    project.close()
    refused(lambda: Project.open(mine), "write-ahead log", error_type=ProjectError)
    assert (mine / cat.CATALOGUE_NAME).read_bytes() == before


def test_own_write_ahead_log_is_still_replayed_after_a_crash(tmp_path):
    project_folder = make_project(tmp_path)
    project, document = Project.open(project_folder)
    paint(document.images[1].label_layers[0], 4)
    project.save(document)
    saved_log = (project_folder / (cat.CATALOGUE_NAME + "-wal")).read_bytes()
    project.close()  # merges the log; put it back as a crash would have left it
    (project_folder / (cat.CATALOGUE_NAME + "-wal")).write_bytes(saved_log)
    reopened, again = Project.open(project_folder)
    assert int(again.images[1].label_layers[0].data.max()) == 4
    reopened.close()


def test_recursive_view_does_not_hang_the_open(tmp_path):
    project = make_project(tmp_path)
    edit_catalogue(project, "ALTER TABLE images RENAME TO images_real",
                   "CREATE VIEW images AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) "
                   "SELECT images_real.* FROM images_real, r")
    refused(lambda: Project.open(project), "view", error_type=ProjectError, seconds=5)


CORRUPTIONS = {
    "format version": ("UPDATE meta SET value='one' WHERE key='format_version'", "format version"),
    "missing table": ("DROP TABLE jobs", "no 'jobs' table"),
    "missing column": ("ALTER TABLE images DROP COLUMN status_model", "lacks the column(s) status_model"),
    "settings not JSON": ("UPDATE layers SET settings='{not json'", "settings is not valid JSON"),
    "card not JSON": ("INSERT INTO models VALUES ('v1', 'x', 'models/x', 0, '[[[', 0)", "card is not valid JSON"),
    "height is text": ("UPDATE images SET height='tall'", "height must be an integer"),
    "unknown status": ("UPDATE images SET status='pwned'", "unknown status"),
    "instances not an object": ("UPDATE layers SET instances='[1, 2]' WHERE kind='labels'", "instances must be"),
    "orphan layer": ("UPDATE layers SET image_id='nowhere'", "belongs to no image"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_malformed_catalogue_gives_one_clear_message(tmp_path, name):
    statement, words = CORRUPTIONS[name]
    project = make_project(tmp_path)
    edit_catalogue(project, "PRAGMA foreign_keys=OFF", statement)
    error = refused(lambda: Project.open(project), words, error_type=ProjectError)
    assert cat.CATALOGUE_NAME in str(error)  # names the catalogue
    refused(lambda: reviewed_samples(project), words, error_type=ProjectError)


def test_not_a_database_at_all(tmp_path):
    project = make_project(tmp_path)
    (project / cat.CATALOGUE_NAME).write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    refused(lambda: Project.open(project), "damaged", error_type=ProjectError)


# -- 5. special files and silently changed images ----------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_image_row_pointing_at_a_fifo_does_not_block(tmp_path):
    project = make_project(tmp_path)
    fifo = tmp_path / "images" / "image0.png"
    fifo.unlink()
    os.mkfifo(fifo)
    start = time.monotonic()
    opened, document = Project.open(project)
    assert time.monotonic() - start < 5
    entry = document.images[0]
    assert entry.problem and "named pipe" in entry.problem
    refused(lambda: entry.layers, "named pipe", error_type=ImageReadError, seconds=5)
    opened.close()
    refused(lambda: reviewed_samples(project), "named pipe", error_type=TrainingError)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_mask_file_that_is_a_fifo_does_not_block(tmp_path):
    project = make_project(tmp_path)
    _, mask_file = first_label_layer(project)
    (project / MASKS_FOLDER / mask_file).unlink()
    os.mkfifo(project / MASKS_FOLDER / mask_file)
    opened, document = Project.open(project)
    entry = next(e for e in document.images if e.id in _image_of(project, mask_file))
    refused(lambda: entry.layers, "not a regular file", error_type=ProjectError, seconds=5)
    opened.close()


def test_image_replaced_with_same_size_and_time_is_detected(tmp_path):
    project = make_project(tmp_path)
    path = tmp_path / "images" / "image1.png"
    status = path.stat()
    data = bytearray(path.read_bytes())
    replacement = np.full((32, 40), 99, np.uint8)
    ok, encoded = cv2.imencode(".png", replacement)
    encoded = encoded.tobytes()
    assert len(encoded) <= len(data)
    path.write_bytes(encoded + b"\x00" * (len(data) - len(encoded)))  # same byte size
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))  # same time stamp
    assert path.stat().st_size == status.st_size and path.stat().st_mtime_ns == status.st_mtime_ns
    opened, document = Project.open(project)
    refused(lambda: document.images[1].layers, "content changed", error_type=ImageReadError)
    opened.close()
    assert hashlib.sha256(bytes(data)).hexdigest() != hashlib.sha256(path.read_bytes()).hexdigest()


# -- the window ----------------------------------------------------------------------------------
@pytest.fixture
def window(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from seggui.ui.main_window import MainWindow

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(f"{box.windowTitle()}: {box.text()}") or 0)
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard))
    window = MainWindow(autosave_delay_ms=100)
    qtbot.addWidget(window)
    window.show()
    window.shown_messages = shown
    return window


@pytest.mark.parametrize("attack", ["format version", "linked masks", "trigger", "fifo image"])
def test_window_reports_a_hostile_project_in_a_dialog(window, tmp_path, attack):
    files = canaries(tmp_path)
    project = make_project(tmp_path)
    if attack == "format version":
        edit_catalogue(project, CORRUPTIONS["format version"][0])
    elif attack == "linked masks":
        shutil.rmtree(project / MASKS_FOLDER)
        (project / MASKS_FOLDER).symlink_to(tmp_path / "canary", target_is_directory=True)
    elif attack == "trigger":
        edit_catalogue(project, "CREATE TRIGGER t AFTER INSERT ON jobs BEGIN DELETE FROM images; END")
    else:
        (tmp_path / "images" / "image0.png").unlink()
        os.mkfifo(tmp_path / "images" / "image0.png")
    start = time.monotonic()
    opened = window.files.open_project(project)
    assert time.monotonic() - start < 10
    if attack == "fifo image":
        assert opened  # the project opens; the broken image is reported, not read
        assert window.document.images[0].problem and "named pipe" in window.document.images[0].problem
    else:
        assert not opened and window.project is None
        assert window.shown_messages and window.shown_messages[-1].startswith("Cannot open the project")
        assert cat.CATALOGUE_NAME in window.shown_messages[-1] or MASKS_FOLDER in window.shown_messages[-1]
    assert_canaries_intact(files)


# -- annotation files sent with a project -------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("name", ["labels.json", "annotations.xml"])
def test_annotation_file_that_is_a_fifo_does_not_block(tmp_path, name):
    from seggui.core.errors import FormatError
    from seggui.formats.safety import parse_xml, read_json

    os.mkfifo(tmp_path / name)
    reader = read_json if name.endswith(".json") else parse_xml
    refused(lambda: reader(tmp_path / name), "named pipe", error_type=FormatError, seconds=5)


# -- model cards shown in the panel ---------------------------------------------------------------
GARBAGE_CARDS = [
    {"validation": [1, 2]},
    {"validation": {"trained": "high", "base": {"val_ap50": "0.9"}}},
    {"validation": {"trained": {"val_ap50": float("nan")}, "base": {"val_ap50": 0.5, "val_dice": "x"}}},
    {"heldout_accuracy": {"plain": {"all": 3, "fluo": {"ap50": "y"}}}, "training": {"images": 7}},
    {"description": {"nested": True}, "name": 5},
]


@pytest.mark.parametrize("card", GARBAGE_CARDS)
def test_a_malformed_card_is_shown_without_crashing(card):
    from seggui.core.records import ModelVersion
    from seggui.ml.registry import ModelInfo
    from seggui.ui.model_catalogue import describe, metrics_text, regression_warning, version_label

    assert isinstance(metrics_text(card), str) and isinstance(regression_warning(card), str)
    assert "x" in version_label(ModelVersion("v1", "x", "models/x", 0.0, card, False))
    assert describe(ModelInfo("x", "unet", "project", None, card, False, "broken")).startswith("<b>x</b>")


BAD_CELL_INFO = {
    "entry not an object": ({"1": "verified"}, "cell 1: its info is str"),
    "entry null": ({"1": None}, "cell 1: its info is NoneType"),
    "score text": ({"1": {"score": "high"}}, "score 'high' is not a finite number"),
    "score NaN": ({"1": {"score": float("nan")}}, "score nan is not a finite number"),
    "score true": ({"1": {"score": True}}, "score True is not a finite number"),
    "verified text": ({"1": {"score": 0.4, "verified": "yes"}}, "verified 'yes' is not true or false"),
    "id past 32 bits": ({"99999999999999999999": {"score": 0.5}}, "out of range"),
    "id negative": ({"-1": {"score": 0.5}}, "out of range"),
    "id not a number": ({"abc": {}}, "cell id 'abc' is not a whole number"),
}


@pytest.mark.parametrize("name", sorted(BAD_CELL_INFO))
def test_a_malformed_cell_table_is_refused_with_its_reason_and_the_labels_kept(tmp_path, name):
    """The per-cell table (scores, verified marks) of a crafted catalogue crashed the review queue
    (a str entry: AttributeError on every image change), or showed "yes" as verified while
    training read it as not verified. Now the project is refused at open, and by training,
    naming the catalogue, the layer and the entry; the mask file is not touched."""
    import json

    info, words = BAD_CELL_INFO[name]
    project = make_project(tmp_path)
    layer_id, mask_file = first_label_layer(project)
    mask = project / MASKS_FOLDER / mask_file
    before = mask.read_bytes()
    edit_catalogue(project, "UPDATE layers SET instances=? WHERE id=?",
                   parameters=(json.dumps({"classes": {}, "info": info}), layer_id))
    error = refused(lambda: Project.open(project), words, layer_id, error_type=ProjectError)
    assert cat.CATALOGUE_NAME in str(error)
    refused(lambda: reviewed_samples(project), words, error_type=ProjectError)
    assert mask.read_bytes() == before


@pytest.mark.parametrize("classes, words", [([1, 2], "classes must be a JSON object"),
                                            ({"a": 1}, "cell id 'a' is not a whole number"),
                                            ({"1": "nucleus"}, "is not a cell id and a class number")])
def test_a_malformed_cell_class_table_is_refused(tmp_path, classes, words):
    """Training read the table raw and stopped with AttributeError / ValueError tracebacks."""
    import json

    project = make_project(tmp_path)
    layer_id, _ = first_label_layer(project)
    edit_catalogue(project, "UPDATE layers SET instances=? WHERE id=?",
                   parameters=(json.dumps({"classes": classes, "info": {}}), layer_id))
    refused(lambda: Project.open(project), words, error_type=ProjectError)
    refused(lambda: reviewed_samples(project), words, error_type=ProjectError)


def test_a_cell_table_changed_after_open_is_refused_when_its_image_loads(tmp_path):
    """The loader checks the table too (a catalogue edited while the project is open)."""
    import json

    project = make_project(tmp_path)
    layer_id, _ = first_label_layer(project)
    opened, document = Project.open(project)
    try:
        edit_catalogue(project, "UPDATE layers SET instances=? WHERE id=?",
                       parameters=(json.dumps({"classes": {}, "info": {"1": "verified"}}), layer_id))
        entry = next(e for e in document.images if e.status == "reviewed")
        refused(lambda: entry.layers, "cell 1: its info is str", layer_id, error_type=ProjectError)
    finally:
        opened.close()


def test_a_well_formed_cell_table_loads_with_integer_ids(tmp_path):
    import json

    project = make_project(tmp_path)
    layer_id, _ = first_label_layer(project)
    info = {"3": {"score": 0.25, "verified": True}, "7": {"score": 1}, "9": {"iscrowd": 1}}
    edit_catalogue(project, "UPDATE layers SET instances=? WHERE id=?",
                   parameters=(json.dumps({"classes": {}, "info": info}), layer_id))
    opened, document = Project.open(project)
    try:
        entry = next(e for e in document.images if e.status == "reviewed")
        assert entry.label_layers[0].instance_info == {3: {"score": 0.25, "verified": True}, 7: {"score": 1},
                                                        9: {"iscrowd": 1}}
    finally:
        opened.close()
