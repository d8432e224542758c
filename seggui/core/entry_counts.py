"""The image list's figures of one image, counted from its loaded layers: cells, verified cells
and doubt (expected wrong cells), as a save would count them (the first label layer).

The image list (seggui.ui.image_list) and the scripting API (seggui.api) both read the counts
from the entry; an edit or a pre-segmentation makes them stale until recount_entry runs."""

from __future__ import annotations

from seggui.core.correction_order import expected_errors
from seggui.core.document import ImageEntry
from seggui.core.project import count_instances
from seggui.core.training_set import verified_ids


def recount_entry(entry: ImageEntry) -> bool:
    """Refresh entry.instance_count, verified_count and doubt from its layers; True when the
    cell count or the doubt changed. An image not in memory keeps what its last save counted."""
    if not entry.loaded:
        return False
    labels = entry.label_layers
    info = labels[0].instance_info if labels else {}
    count = count_instances(labels[0].data) if labels else 0
    doubt = expected_errors(info) if labels else None
    entry.verified_count = len(verified_ids(info))
    changed = (count, doubt) != (entry.instance_count, entry.doubt)
    entry.instance_count, entry.doubt = count, doubt
    return changed
