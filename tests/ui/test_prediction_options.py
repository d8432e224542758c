"""The Model panel's Options box: what a run is asked to do."""

from __future__ import annotations

from seggui.ui.prediction_options import PredictionOptionsBox


def test_flips_choice_reaches_the_prediction_options(qtbot):
    box = PredictionOptionsBox()
    qtbot.addWidget(box)
    assert box.flips_combo.currentIndex() == 0 and box.options().test_time_flips is None  # the predictor decides
    chosen = []
    for index in range(box.flips_combo.count()):
        box.flips_combo.setCurrentIndex(index)
        chosen.append(box.options().test_time_flips)
    assert chosen == [None, True, False]
    box.tile_spin.setValue(512)
    assert box.options().tile == 512 and box.options().overlap == 64


def test_arithmetic_choice_reaches_the_prediction_options(qtbot):
    from seggui.ml.precision import cpu_has_native_bfloat16

    box = PredictionOptionsBox()
    qtbot.addWidget(box)
    assert box.options().precision == "auto"
    # The automatic choice names what it will run on this processor.
    assert ("bfloat16" in box.precision_combo.currentText()) == cpu_has_native_bfloat16()
    box.precision_combo.setCurrentIndex(1)
    assert box.options().precision == "float32"
