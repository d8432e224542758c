"""What "Pre-segment all new images" will do, said before it starts (the Model panel's
batch button shows it as its status tip and the batch's first progress line).

The plan is redrawn after every edit and looks at every loaded image, so a layer's pixels
are scanned only when its version moved since the last look: a stroke costs one scan.
"""

from __future__ import annotations

from seggui.core.proposals import batch_may_change


class BatchPlan:
    def __init__(self) -> None:
        self._labelled_layers: dict[str, tuple[int, bool]] = {}  # layer id -> (version, holds labels)

    @staticmethod
    def new_images(document) -> list:
        """The images a batch pre-segments (seggui.core.proposals.batch_may_change)."""
        if document is None:
            return []
        return [e for e in document.images if batch_may_change(e)]

    def holds_labels(self, entry) -> bool:
        if entry.loaded:
            return any(self.layer_has_labels(layer) for layer in entry.label_layers)
        return entry.instance_count > 0  # counted at the last save; the pixels are on disk

    def layer_has_labels(self, layer) -> bool:
        seen = self._labelled_layers.get(layer.id)
        if seen is None or seen[0] != layer.version:
            seen = (layer.version, bool(layer.data.any()))
            self._labelled_layers[layer.id] = seen
        return seen[1]

    def describe(self, document, replace: bool) -> str:
        """The plan in a sentence; `replace`: "Accept as" replaces the labels."""
        entries = self.new_images(document)
        if document is None or not entries:
            return "No image is marked new."
        labelled = sum(1 for e in entries if self.holds_labels(e))
        left = sum(1 for e in document.images if e.status in ("edited", "reviewed"))
        text = f"{len(entries)} new image(s) get a proposal"
        if labelled:
            text += f"; {labelled} already hold labels and get it only where nothing is labelled"
        elif not replace:
            text += " where nothing is labelled"
        if left:
            text += f". {left} edited or reviewed image(s) are left alone"
        return text + "."
