"""Load: a 2,000-image project opens fast, 10,000 instances edit like 100, memory stays bounded."""

from __future__ import annotations

from .load_measurements import edit_timings, open_large_project, stroke_memory


def test_two_thousand_images_open_in_under_three_seconds(tmp_path):
    figures = open_large_project(tmp_path, images=2000)
    assert figures["images"] == 2000
    assert figures["loaded_after_open"] == 0  # pixels are decoded lazily, on first view
    assert figures["open_seconds"] < 3.0, figures


def test_ten_thousand_instances_edit_like_one_hundred():
    figures = edit_timings(100, 10_000)
    # Sparse, local edits: the cost follows the edited area, not the instance count. The
    # bound leaves room for a busy shared CI machine; the measured ratio is about 1.
    for name, ratio in figures["ratio_large_over_small"].items():
        assert ratio < 2.5, figures
    assert figures["large"]["stroke_ms"] < 50, figures


def test_memory_bounded_over_a_thousand_strokes():
    budget = 4 * 1024 * 1024
    figures = stroke_memory(1000, budget)
    assert figures["undo_peak_bytes"] <= budget, figures
    assert figures["undo_steps_kept"] < 1000  # the budget really dropped old steps
    assert figures["rss_growth_mb"] < 32, figures
