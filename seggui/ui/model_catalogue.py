"""What the Model panel and Training dock list: registry models plus the project's versions.

Project versions come from the catalogue (records.model_versions), not from scanning the
project's models folder, so a cancelled or failed training run that left files behind never
shows up as a version.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from seggui.core import records
from seggui.core.project_files import MODELS_FOLDER
from seggui.core.safe_files import UnsafePathError, open_regular
from seggui.ml.registry import ModelInfo, list_models, model_from_folder

DEFAULT_BASE = "nuclei"  # the bundled model fine-tuned when no project version is active


def project_versions(project) -> list[records.ModelVersion]:
    if project is None:
        return []
    return records.model_versions(project.connection)


def active_version(project) -> records.ModelVersion | None:
    return next((v for v in project_versions(project) if v.active), None)


def version_info(version: records.ModelVersion, project) -> ModelInfo:
    """The version as a ModelInfo; unavailable (and with no folder to load) when its path
    leaves the project."""
    card = version.card if isinstance(version.card, dict) else {}
    try:
        path = records.version_folder(version, project.folder)
    except UnsafePathError as error:
        return ModelInfo(version.name, str(card.get("kind", "unknown")), "project", None, dict(card),
                         False, error.message)
    info = model_from_folder(path, "project")
    info.name = version.name
    if not info.card and card:
        info.card = dict(card)
    return info


def activate_version(project, version_id: str | None) -> None:
    """Make a version active (None: none); a version that cannot be loaded cannot be active."""
    from seggui.core.errors import ModelError

    if version_id is not None:
        version = next((v for v in project_versions(project) if v.id == version_id), None)
        info = None if version is None else version_info(version, project)
        if info is not None and not info.available:
            raise ModelError(f"version {version.name!r} cannot be made active: {info.unavailable_reason}")
    records.set_active_model(project.connection, version_id)


def available_models(project) -> list[ModelInfo]:
    """Registry models then project versions (oldest first), each once."""
    models = list_models()
    models += [version_info(version, project) for version in project_versions(project)]
    return models


def model_reference(info: ModelInfo) -> str:
    """What load_model / `--base` get: a folder for project versions (names may repeat), else the name."""
    if info.source in ("project", "file") and info.folder is not None:
        return str(info.folder)
    return info.name


def default_model(models: list[ModelInfo], project) -> ModelInfo | None:
    """The active version, else the bundled nuclei model, else the first available one."""
    active = active_version(project)
    if active is not None:
        match = [m for m in models if m.source == "project" and m.name == active.name and m.available]
        if match:
            return match[-1]
    for candidate in models:
        if candidate.name == DEFAULT_BASE and candidate.available:
            return candidate
    return next((m for m in models if m.available), None)


def _number(value) -> str:
    return f"{value:.3f}" if _is_number(value) else "–"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _minutes(value: float) -> str:
    return f"{value:.0f} min" if value >= 10 else f"{value:.1f} min"


def _training_time(training: dict) -> str:
    """' for 100 min (175 min in all, 2 runs)': this run's time and, for a model resumed
    from earlier runs (the card's lineage), the total; '' when the card does not say."""
    seconds = training.get("duration_s")
    if not _is_number(seconds):
        return ""
    text = f" for {_minutes(seconds / 60)}"
    lineage = training.get("lineage")
    runs = [_dict(run).get("minutes") for run in lineage] if isinstance(lineage, list) else []
    if len(runs) > 1 and all(_is_number(m) for m in runs):
        text += f" ({_minutes(sum(runs))} in all, {len(runs)} runs)"
    return text


def _dict(value) -> dict:
    """A card comes from someone else's folder: any field may have any JSON type."""
    return value if isinstance(value, dict) else {}


def metrics_text(card: dict) -> str:
    """Validation before/after (fine-tuned versions) and held-out accuracy (bundled models)."""
    lines = []
    validation = _dict(card.get("validation"))
    trained, base = _dict(validation.get("trained")), _dict(validation.get("base"))
    if not measured(card):
        lines.append("Validation against the base: not measured (no reviewed image labelled by a person "
                     "was set aside)")
    elif trained:
        if base:
            lines.append(f"Validation AP50 {_number(base.get('val_ap50'))} → {_number(trained.get('val_ap50'))}, "
                         f"Dice {_number(base.get('val_dice'))} → {_number(trained.get('val_dice'))} "
                         "(base → fine-tuned)")
        else:
            lines.append(f"Validation AP50 {_number(trained.get('val_ap50'))}, "
                         f"Dice {_number(trained.get('val_dice'))}")
    accuracy = _dict(card.get("heldout_accuracy"))
    # "default": as the app predicts (test-time flips where they stay quick); older cards: plain.
    heldout = _dict(accuracy.get("default")) or _dict(accuracy.get("plain"))
    groups = [(str(name), figures) for name, figures in heldout.items()
              if name != "all" and isinstance(figures, dict) and _is_number(figures.get("ap50"))]
    if groups:  # per modality: a pooled figure hides that stained images are much harder
        lines.append("Held-out AP50, cells pooled over images: " + ", ".join(
            f"{name} {_number(figures['ap50'])} ({figures.get('images', '?')} images)" for name, figures in groups))
    elif _is_number(_dict(heldout.get("all")).get("ap50")):
        overall = heldout["all"]
        lines.append(f"Held-out AP50, cells pooled over images, {_number(overall['ap50'])} "
                     f"on {overall.get('images', '?')} images")
    training = _dict(card.get("training"))
    if isinstance(training.get("images"), list) and training["images"]:
        count = len(training["images"])
        lines.append(f"Trained on {count} image{'s' if count != 1 else ''}{_training_time(training)}")
    return "<br>".join(html.escape(line) for line in lines)


def measured(card: dict) -> bool:
    """False when training found no honest validation image (cards before this say nothing:
    their scores are shown as they are)."""
    return _dict(card.get("validation")).get("measured") is not False


BEATS_MARGIN = 0.01  # AP50 gain below this is noise on a handful of validation images


def beats_base(card: dict, margin: float = BEATS_MARGIN) -> bool:
    """Whether a fine-tuned version measurably improves on its base (AP50 higher by > margin)."""
    validation = _dict(card.get("validation"))
    new_ap = _dict(validation.get("trained")).get("val_ap50")
    old_ap = _dict(validation.get("base")).get("val_ap50")
    return measured(card) and _is_number(new_ap) and _is_number(old_ap) and new_ap > old_ap + margin


def regression_warning(card: dict) -> str:
    """A warning when a fine-tuned version scores below its base on the validation images
    (AP50, or Dice when AP50 ties): making it active would make pre-segmentation worse."""
    validation = _dict(card.get("validation"))
    trained, base = _dict(validation.get("trained")), _dict(validation.get("base"))
    new_ap, old_ap = trained.get("val_ap50"), base.get("val_ap50")
    if not measured(card) or not (_is_number(new_ap) and _is_number(old_ap)):
        return ""  # nothing honest to compare: "not measured" is said instead, never "lower"
    new_dice, old_dice = trained.get("val_dice"), base.get("val_dice")
    new_dice, old_dice = (new_dice if _is_number(new_dice) else 0), (old_dice if _is_number(old_dice) else 0)
    worse = new_ap < old_ap - 1e-9 or (abs(new_ap - old_ap) <= 1e-9 and new_dice < old_dice)
    if not worse:
        return ""
    return ("This version scores lower than its base on the validation images; keep the current "
            "model active, or review more images and train longer.")


def describe(info: ModelInfo) -> str:
    """Rich text for the panel: kind, where the weights are, metrics, or why it is unavailable."""
    parts = [f"<b>{html.escape(info.name)}</b> — {html.escape(info.kind)} ({html.escape(info.source)})"]
    if info.description:
        parts.append(html.escape(str(info.description)))
    if info.weights is not None:
        parts.append(f"Weights: {html.escape(weights_place(info))}")
    elif info.kind == "classic":
        parts.append("No weights needed.")
    if not info.available:
        parts.append(f"<span style='color:#b00'>Unavailable: {html.escape(info.unavailable_reason or '')}</span>")
    metrics = metrics_text(info.card)
    if metrics:
        parts.append(metrics)
    warning = regression_warning(info.card)
    if warning:
        parts.append(f"<span style='color:#b00'>{html.escape(warning)}</span>")
    return "<br>".join(parts)


def weights_place(info: ModelInfo) -> str:
    """Where the weights are, in words a person reads at a glance: a bundled model's are part
    of seggui; a project's by its folder name; other files with the home folder as ~ and long
    paths cut in the middle (the Model panel shows the whole path as the details' tooltip)."""
    weights = Path(info.weights)
    if info.source == "bundled":
        return f"bundled with seggui ({weights.parent.name}/{weights.name})"
    if info.source == "project":
        return f"in this project ({weights.parent.name}/{weights.name})"
    text = str(weights)
    home = str(Path.home())
    if home not in ("", "/") and text.startswith(home + "/"):
        text = "~" + text[len(home):]
    return text if len(text) <= 60 else text[:25] + "…" + text[-32:]


def version_label(version: records.ModelVersion) -> str:
    try:
        created = datetime.fromtimestamp(version.created).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError, TypeError):  # a time stamp from a damaged catalogue
        created = "unknown date"
    metrics = metrics_text(version.card).split("<br>")[0] or "no validation metrics"
    marker = "● active  " if version.active else ""
    return f"{marker}{version.name}  ({created})\n{html.unescape(metrics)}"


def import_model_folder(project, folder: str | Path) -> records.ModelVersion:
    """Bring a model trained elsewhere (a GPU server, a cluster) into the project as a version.

    The card is validated and the weights are loaded safely before anything is copied; only
    weights.pt and card.json are copied (not the large training checkpoint), into a staging
    folder renamed into place, so a failure leaves the project's models folder unchanged.
    """
    import os
    import shutil

    from seggui.core.errors import ModelError
    from seggui.ml.registry import CARD_NAME, WEIGHTS_NAME, load_model

    folder = Path(folder)
    info = model_from_folder(folder, "file")
    if not info.available:
        raise ModelError(f"not a usable model folder: {info.unavailable_reason}", folder)
    load_model(folder, device="cpu")  # refuses corrupt or unsafe weights before they are copied
    models = project.folder / MODELS_FOLDER
    models.mkdir(exist_ok=True)
    taken = {v.name for v in project_versions(project)} | {p.name for p in models.iterdir()}
    base_name = "".join(c if c.isalnum() or c in "-_." else "-" for c in (info.name or folder.name))
    base_name = base_name.lstrip(".") or "model"  # never ".", ".." or a hidden folder
    name, number = base_name, 2
    while name in taken:
        name, number = f"{base_name}-{number}", number + 1
    staging = models / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for file_name in (CARD_NAME, WEIGHTS_NAME):
            if (folder / file_name).is_file():  # open_regular: swapped for a FIFO since loading, refused
                with open_regular(folder / file_name) as source, open(staging / file_name, "wb") as target:
                    shutil.copyfileobj(source, target)
        os.replace(staging, models / name)
    except (OSError, UnsafePathError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelError(f"could not copy the model into the project ({error})", folder) from error
    return records.add_model_version(project.connection, name, f"{MODELS_FOLDER}/{name}", info.card)


def install_torchvision_weights(kind: str, file: str | Path) -> Path:
    """Put a pretrained torchvision file the user chose where torchvision's cache expects it.

    The file is loaded safely (no pickled code) and must fit the architecture before it is
    copied, atomically, under the file name torchvision itself would download.
    """
    import shutil

    import torch

    from seggui.core.atomic import atomic_open
    from seggui.core.errors import ModelError
    from seggui.ml.registry import torchvision_cache_dir
    from seggui.ml.safe_load import load_weights, state_dict_from
    from seggui.ml.torchvision_models import TORCHVISION_MODELS, card_for, load

    if kind not in TORCHVISION_MODELS:
        raise ModelError(f"{kind} does not take a torchvision weights file", file)
    file = Path(file)
    state = state_dict_from(load_weights(file), file)
    try:
        load(kind, card_for(kind), state, file, torch.device("cpu"))
    except ModelError:
        raise
    except Exception as error:  # a state dict of another architecture
        raise ModelError(f"these weights do not fit {kind} ({str(error).splitlines()[0]})", file) from None
    cache = torchvision_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / TORCHVISION_MODELS[kind][0]
    with open(file, "rb") as source, atomic_open(target) as destination:
        shutil.copyfileobj(source, destination)
    return target
