"""Which models exist and how to load them.

Sources, in listing order: built-in (classic, torchvision architectures), models bundled in
seggui/resources/models, the user's models folder (SEGGUI_MODELS_DIR or the platform's user
data folder), and extra folders such as a project's fine-tuned versions. A model folder holds
card.json and (except classic) weights.pt. Nothing here raises for a missing or broken
model: it is listed as unavailable with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from seggui.core.errors import ModelError, SegguiError
from seggui.core.paths import user_data_dir
from seggui.core.safe_files import UnsafePathError, check_regular, contained_path
from seggui.ml.cards import read_card

RESOURCE_MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"
CARD_NAME = "card.json"
WEIGHTS_NAME = "weights.pt"


@dataclass
class ModelInfo:
    name: str
    kind: str  # unet, classic, deeplabv3_resnet50, deeplabv3_mobilenet_v3_large, maskrcnn_resnet50_fpn
    source: str  # builtin, bundled, user, project, torchvision-cache, file
    weights: Path | None
    card: dict = field(default_factory=dict)
    available: bool = True
    unavailable_reason: str | None = None
    folder: Path | None = None

    @property
    def task(self) -> str:
        return self.card.get("task", "instances")

    @property
    def description(self) -> str:
        return self.card.get("description", "")


def user_models_dir() -> Path:
    configured = os.environ.get("SEGGUI_MODELS_DIR")
    return Path(configured) if configured else user_data_dir() / "models"


def torchvision_cache_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def model_file(folder: Path, name: str, what: str) -> Path:
    """folder/name, refused (ModelError) when a link takes it outside the model folder."""
    try:
        return contained_path(folder, name, what)
    except UnsafePathError as error:
        raise ModelError(error.message, Path(folder) / name) from None


def model_from_folder(folder: Path, source: str) -> ModelInfo:
    """A ModelInfo for a folder with card.json (+ weights.pt); unavailable if broken.

    Both files must be regular files inside the folder: a FIFO would block the listing, a
    link could make a mailed folder read a file elsewhere on this computer.
    """
    folder = Path(folder)
    try:
        card = read_card(model_file(folder, CARD_NAME, "model card"))
    except ModelError as error:
        return ModelInfo(folder.name, "unknown", source, None, {}, False, str(error), folder)
    weights = None if card["kind"] == "classic" else folder / WEIGHTS_NAME
    info = ModelInfo(card["name"], card["kind"], source, weights, card, True, None, folder)
    if weights is None:
        return info
    if not os.path.lexists(weights):
        info.available = False
        info.unavailable_reason = f"weights file missing: put {WEIGHTS_NAME} in {folder}"
        return info
    try:
        check_regular(model_file(folder, WEIGHTS_NAME, "weights file"), "weights file")
    except (ModelError, UnsafePathError) as error:
        info.available = False
        info.unavailable_reason = str(error)  # names the file
    return info


def _model_folders(root: Path) -> list[Path]:
    """root itself if it is a model folder, else its model subfolders.

    A card.json that is not a regular file still marks a model folder, so that it is listed
    as unavailable with the reason rather than silently skipped.
    """
    if os.path.lexists(root / CARD_NAME):
        return [root]
    try:
        return sorted(p for p in root.iterdir() if os.path.lexists(p / CARD_NAME))
    except OSError:
        return []


def builtin_models() -> list[ModelInfo]:
    from seggui.ml.classic import CLASSIC_CARD
    from seggui.ml.torchvision_models import TORCHVISION_MODELS, card_for

    models = [ModelInfo("classic", "classic", "builtin", None, dict(CLASSIC_CARD))]
    cache = torchvision_cache_dir()
    for kind, (filename, _, _) in TORCHVISION_MODELS.items():
        path = cache / filename
        info = ModelInfo(kind, kind, "torchvision-cache", path, card_for(kind))
        if not path.is_file():
            info.available = False
            info.unavailable_reason = (
                f"pretrained weights not found: put torchvision's {filename} in {cache} "
                f"(or choose a local weights file); seggui never downloads"
            )
        models.append(info)
    return models


def list_models(extra_folders: Iterable[str | Path] = ()) -> list[ModelInfo]:
    """Every known model, available or not. Later sources with the same name shadow earlier
    ones only in resolve_model; list_models shows them all so the user can see both."""
    models = builtin_models()
    for folder in _model_folders(RESOURCE_MODELS):
        models.append(model_from_folder(folder, "bundled"))
    for folder in _model_folders(user_models_dir()):
        models.append(model_from_folder(folder, "user"))
    for extra in extra_folders:
        for folder in _model_folders(Path(extra)):
            models.append(model_from_folder(folder, "project"))
    return models


def _kind_from_filename(path: Path) -> str | None:
    from seggui.ml.torchvision_models import TORCHVISION_MODELS

    name = path.name.lower()
    for kind in sorted(TORCHVISION_MODELS, key=len, reverse=True):
        if name.startswith(kind):
            return kind
    return None


def resolve_model(name_or_path: str | Path, extra_folders: Iterable[str | Path] = ()) -> ModelInfo:
    """A model by name (last source wins: project over user over bundled) or by path: a model
    folder, or a torchvision .pth file whose name says its architecture."""
    text = str(name_or_path)
    path = Path(text)
    if path.is_dir():
        info = model_from_folder(path, "file")
        if info.kind == "unknown":
            raise ModelError(info.unavailable_reason or "not a model folder", path)
        return info
    if path.is_file():
        kind = _kind_from_filename(path)
        if kind is None:
            raise ModelError(
                "a weights file needs a card.json beside it in a model folder, or a torchvision "
                "file name (deeplabv3_resnet50*, deeplabv3_mobilenet_v3_large*, maskrcnn_resnet50_fpn*)", path)
        from seggui.ml.torchvision_models import card_for

        return ModelInfo(path.stem, kind, "file", path, card_for(kind, path.stem))
    matches = [m for m in list_models(extra_folders) if m.name == text]
    if not matches:
        names = ", ".join(sorted({m.name for m in list_models(extra_folders)}))
        raise ModelError(f"no model named {text!r} and no such folder or file (known models: {names})")
    available = [m for m in matches if m.available]
    return (available or matches)[-1]


def load_model(name_or_path: str | Path, device: str = "auto",
               extra_folders: Iterable[str | Path] = (), threads: int | None = None):
    """A ready Predictor. Raises ModelError (naming the file) for missing, corrupt or unsafe
    weights or cards."""
    import torch

    from seggui.ml.inference import default_threads, pick_device
    from seggui.ml.safe_load import load_weights, state_dict_from

    info = resolve_model(name_or_path, extra_folders)
    if not info.available:
        raise ModelError(f"model {info.name!r} is unavailable: {info.unavailable_reason}", info.folder or info.weights)
    torch_device = pick_device(device)
    if torch_device.type == "cpu":
        torch.set_num_threads(threads or default_threads())
    if info.kind == "classic":
        from seggui.ml.classic import ClassicPredictor

        return ClassicPredictor(info.name, info.card, torch_device)
    state = state_dict_from(load_weights(info.weights), info.weights)
    if info.kind == "unet":
        from seggui.ml.checked_build import build_checked
        from seggui.ml.inference import NetworkPredictor
        from seggui.ml.unet import UNet

        architecture = info.card["architecture"]
        model = build_checked(lambda: UNet(architecture["in_channels"], architecture["classes"], architecture["depth"],
                                           architecture["width"], bool(architecture.get("distance_head", False))),
                              state, info.weights, "U-Net architecture")
        return NetworkPredictor(info.name, info.card, torch_device, model, architecture["in_channels"],
                                architecture["classes"], bool(architecture.get("distance_head", False)),
                                model.size_multiple)
    from seggui.ml import torchvision_models

    return torchvision_models.load(info.kind, info.card, state, info.weights, torch_device)


__all__ = ["ModelInfo", "list_models", "load_model", "resolve_model", "user_models_dir", "SegguiError"]
