"""The Model panel's "Options" box: how a model pre-segments (tile size, thresholds,
minimum object size, test-time flips, arithmetic) and how its result enters the label layer ("Accept as").

Choosing a model loads its card's post-processing defaults here (`apply_card`); a run reads
them with `options()` when it starts.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QSpinBox, QWidget

from seggui.core.proposals import MODES
from seggui.ml.inference import AUTO_FLIP_PIXELS, PredictOptions
from seggui.ml.precision import cpu_has_native_bfloat16
from seggui.ml.postprocess import InstanceParams


class PredictionOptionsBox(QGroupBox):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Options", parent)
        form = QFormLayout(self)
        self.tile_spin = QSpinBox(self)
        self.tile_spin.setRange(128, 4096)
        self.tile_spin.setSingleStep(128)
        self.tile_spin.setValue(1024)
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip("Larger images are processed in tiles of this size (smaller uses less memory)")
        form.addRow("Tile size", self.tile_spin)
        self.foreground_spin = self._threshold_spin("Probability above which a pixel is a cell")
        form.addRow("Cell threshold", self.foreground_spin)
        self.seed_spin = self._threshold_spin("Confidence above which a cell centre starts an object "
                                              "(higher splits fewer touching cells)")
        form.addRow("Seed threshold", self.seed_spin)
        self.min_size_spin = QSpinBox(self)
        self.min_size_spin.setRange(0, 100_000)
        self.min_size_spin.setSuffix(" px")
        self.min_size_spin.setToolTip("Objects smaller than this are dropped as noise")
        form.addRow("Minimum object size", self.min_size_spin)
        self.flips_combo = QComboBox(self)
        # None: the predictor decides (seggui.ml.inference.NetworkPredictor.auto_flips).
        self.flips_combo.addItem("Where quick", None)
        self.flips_combo.addItem("Always (4x slower)", True)
        self.flips_combo.addItem("Never", False)
        self.flips_combo.setToolTip(
            "Average the model's maps over four mirrored copies of the image: slightly more accurate "
            "(held-out DSB2018 AP50 0.798 -> 0.808), four times the network time. 'Where quick': on a GPU, "
            f"and on a CPU for images up to {AUTO_FLIP_PIXELS:,} pixels (512 x 768)")
        form.addRow("Test-time flips", self.flips_combo)
        self.precision_combo = QComboBox(self)
        native = cpu_has_native_bfloat16()
        self.precision_combo.addItem("Auto: bfloat16" if native else "Auto: float32", "auto")
        self.precision_combo.addItem("float32", "float32")
        self.precision_combo.setToolTip(
            "The network's arithmetic on the CPU. Automatic runs bfloat16 where the processor computes it "
            "natively (about three times as fast; on 98 held-out DSB2018 images the same AP50, 0.804 in "
            "float32 and 0.805 in bfloat16 with the previous model), else float32. "
            + ("This processor has native bfloat16." if native else "This processor has no native bfloat16.")
            + " A GPU always runs float16 mixed precision.")
        form.addRow("Arithmetic", self.precision_combo)
        for combo in (self.flips_combo, self.precision_combo):  # the dock stays narrow
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self.mode_combo = QComboBox(self)
        for mode, text in MODES.items():
            self.mode_combo.addItem(text, mode)
        self.mode_combo.setToolTip("How an accepted proposal (and every batch result) enters the label layer")
        self.mode_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode_combo.setMinimumContentsLength(14)
        form.addRow("Accept as", self.mode_combo)

    def _threshold_spin(self, tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setRange(0.01, 0.99)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        spin.setToolTip(tip)
        return spin

    @property
    def mode(self) -> str:
        """How a proposal is accepted (seggui.core.proposals.REPLACE or FILL_EMPTY)."""
        return self.mode_combo.currentData()

    def apply_card(self, info) -> None:
        """Show the post-processing defaults of model `info` (a ModelInfo)."""
        params = InstanceParams.from_json(info.card.get("postprocess"))
        self.foreground_spin.setValue(params.foreground_threshold)
        self.seed_spin.setValue(params.seed_threshold)
        self.min_size_spin.setValue(int(info.card.get("postprocess", {}).get("min_size", params.min_size)))
        network = info.kind != "classic"
        why = "" if network else "The classic model picks its threshold itself (Otsu)"
        for spin in (self.foreground_spin, self.seed_spin):
            spin.setEnabled(network)
            spin.setStatusTip(why)

    def options(self) -> PredictOptions:
        tile = self.tile_spin.value()
        return PredictOptions(tile=tile, overlap=min(64, tile // 8), test_time_flips=self.flips_combo.currentData(),
                              precision=self.precision_combo.currentData(), postprocess={
            "foreground_threshold": self.foreground_spin.value(),
            "seed_threshold": self.seed_spin.value(),
            "min_size": self.min_size_spin.value(),
        })
