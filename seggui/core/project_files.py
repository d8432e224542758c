"""The files a project folder holds besides its catalogue, and the rule for naming them.

A project may come from someone else (a shared drive, a mailed archive), so the names its
catalogue gives are data, not trusted paths. Label files are always `masks/<layer id>-<8 hex>.png`
(or `.tif`), written by seggui: anything else named by a catalogue row is refused, and only
files of that shape are ever deleted by clean-up. The masks folder itself must be a real
folder, not a link to somewhere else.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from seggui.core.errors import ProjectError
from seggui.core.safe_files import UnsafePathError, check_not_link, is_identifier

MASKS_FOLDER = "masks"
MODELS_FOLDER = "models"
_MASK_NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9_\-]{0,127})-([0-9a-f]{8})\.(png|tif)\Z")
# atomic_open's temporary files for a mask: ".<mask name>.<random>.tmp"
_TEMPORARY_MASK_NAME = re.compile(r"\.(?P<target>[^/\\]+)\.[A-Za-z0-9_]+\.tmp\Z")


def mask_file_name(layer_id: str, tag: str, suffix: str) -> str:
    """The name a save gives a label layer's file (`tag`: 8 hex digits, new every save)."""
    name = f"{layer_id}-{tag}{suffix}"
    if not is_seggui_mask_name(name):
        raise ProjectError(f"label layer id {layer_id!r} cannot name a file (letters, digits, '-', '_' only)")
    return name


def is_seggui_mask_name(name: object) -> bool:
    return isinstance(name, str) and bool(_MASK_NAME.match(name))


def is_temporary_mask_name(name: str) -> bool:
    match = _TEMPORARY_MASK_NAME.match(name)
    return bool(match) and is_seggui_mask_name(match.group("target"))


def _own_folder(project_folder: Path, name: str, create: bool) -> Path:
    folder = Path(project_folder) / name
    try:
        status = os.lstat(folder)
    except FileNotFoundError:
        if create:
            try:
                folder.mkdir()
            except OSError as error:
                raise ProjectError(f"cannot create the {name} folder ({error.strerror or error})", folder) from error
        return folder
    except OSError as error:
        raise ProjectError(f"the {name} folder cannot be read ({error.strerror or error})", folder) from None
    if stat.S_ISLNK(status.st_mode):
        raise ProjectError(f"the {name} folder is a symbolic link to {os.path.realpath(folder)}; a project's "
                           f"files must be inside its own folder (replace the link by a real folder)", folder)
    if not stat.S_ISDIR(status.st_mode):
        raise ProjectError(f"{name!r} is not a folder", folder)
    return folder


def masks_folder(project_folder: Path, create: bool = False) -> Path:
    """The project's masks folder, refused when it is a symlink or not a folder."""
    return _own_folder(project_folder, MASKS_FOLDER, create)


def models_folder(project_folder: Path, create: bool = False) -> Path:
    """The project's fine-tuned versions folder, refused when it is a symlink or not a folder."""
    return _own_folder(project_folder, MODELS_FOLDER, create)


def mask_path(project_folder: Path, mask_file: object, layer_id: object = None) -> Path:
    """Where a catalogue row's label file lies; refused unless seggui could have written it.

    The name must have seggui's shape (no folder parts, so no `..` and no absolute path) and,
    when `layer_id` is given, belong to that layer. Whether the file is a link is checked
    when it is opened (`open_mask`).
    """
    if not is_seggui_mask_name(mask_file):
        raise ProjectError(f"the catalogue names label file {mask_file!r}, which is not a file seggui writes "
                           "(masks/<layer id>-<8 hex digits>.png or .tif); the catalogue was altered",
                           Path(project_folder) / MASKS_FOLDER)
    if layer_id is not None and not str(mask_file).startswith(f"{layer_id}-"):
        raise ProjectError(f"the catalogue gives label layer {layer_id!r} the file {mask_file!r} of another layer",
                           Path(project_folder) / MASKS_FOLDER)
    return masks_folder(project_folder) / str(mask_file)


def check_mask_file(path: Path) -> None:
    """Refuse a label file that is a link or not a regular file (a FIFO would block the read)."""
    try:
        check_not_link(path, "label file")
    except UnsafePathError as error:
        raise ProjectError(error.message, path) from None


def check_layer_id(layer_id: object, where: Path | None = None) -> str:
    if not is_identifier(layer_id):
        raise ProjectError(f"layer id {layer_id!r} is not a plain identifier (letters, digits, '-', '_')", where)
    return str(layer_id)


def removable_debris(folder: Path) -> list[Path]:
    """Files in the masks folder that seggui wrote and may delete when no row names them.

    Only regular files (never links, never folders) whose names have seggui's shapes.
    """
    try:
        folder = masks_folder(folder)
        entries = list(os.scandir(folder))
    except (ProjectError, OSError):
        return []
    debris = []
    for entry in entries:
        if not entry.is_file(follow_symlinks=False):
            continue
        if is_seggui_mask_name(entry.name) or is_temporary_mask_name(entry.name):
            debris.append(Path(entry.path))
    return debris
