"""The Model panel names where weights are in words, not a machine's absolute path."""

from __future__ import annotations

from pathlib import Path

from seggui.ml.registry import ModelInfo
from seggui.ui.model_catalogue import describe, weights_place


def info(source: str, weights: Path) -> ModelInfo:
    return ModelInfo("nuclei", "unet", source, weights, {})


def test_bundled_and_project_weights_are_named_by_their_folder():
    bundled = info("bundled", Path("/opt/venv/lib/python3.11/site-packages/seggui/resources/models/nuclei/weights.pt"))
    assert weights_place(bundled) == "bundled with seggui (nuclei/weights.pt)"
    assert "/opt/venv" not in describe(bundled)
    project = info("project", Path("/data/lab/project/models/v3/weights.pt"))
    assert weights_place(project) == "in this project (v3/weights.pt)"


def test_other_files_shorten_home_and_long_paths():
    home = Path.home()
    assert weights_place(info("file", home / "w" / "model.pth")) == "~/w/model.pth"
    long = Path("/" + "/".join(["folder"] * 20) + "/deeplab.pth")
    text = weights_place(info("file", long))
    assert len(text) <= 60 and text.endswith("deeplab.pth") and "…" in text


def test_training_time_reads_in_minutes_with_the_lineage_total():
    from seggui.ui.model_catalogue import metrics_text

    def last_line(training):
        return metrics_text({"training": training}).split("<br>")[-1]

    resumed = {"images": ["a", "b"], "duration_s": 6017.5, "lineage": [{"minutes": 75.3}, {"minutes": 100.3}]}
    assert last_line(resumed) == "Trained on 2 images for 100 min (176 min in all, 2 runs)"
    assert last_line({"images": ["a"], "duration_s": 95.0}) == "Trained on 1 image for 1.6 min"
    # someone else's card: odd types say less, never raise
    assert last_line({"images": ["a"], "duration_s": "long", "lineage": 5}) == "Trained on 1 image"
    assert last_line({"images": ["a"], "duration_s": 60, "lineage": [{"minutes": 1}, "x"]}) == \
        "Trained on 1 image for 1.0 min"


def test_heldout_figures_are_those_of_the_default_prediction_when_the_card_has_them():
    from seggui.ui.model_catalogue import metrics_text

    plain = {"stained": {"images": 18, "ap50": 0.556}, "all": {"images": 98, "ap50": 0.761}}
    default = {"stained": {"images": 18, "ap50": 0.571}, "all": {"images": 98, "ap50": 0.770}}
    both = metrics_text({"heldout_accuracy": {"plain": plain, "default": default}})
    assert "stained 0.571 (18 images)" in both and "0.556" not in both
    older = metrics_text({"heldout_accuracy": {"plain": plain}})
    assert "stained 0.556 (18 images)" in older
