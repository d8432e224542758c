"""Browsing stays within a memory budget; edited images are kept until they are saved."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from seggui.core.document import Document
from seggui.core.image_cache import ImageCache, entry_bytes
from seggui.core.paint import change_command
from seggui.core.project import Project


def project_of(tmp_path: Path, count: int = 6, shape=(256, 256)):
    (tmp_path / "images").mkdir()
    for index in range(count):
        cv2.imwrite(str(tmp_path / "images" / f"img{index}.png"), np.full(shape, index * 20, np.uint16))
    project = Project.create(tmp_path / "project")
    document = Document()
    project.add_images(document, [tmp_path / "images"])
    project.save(document)
    project.close()
    return Project.open(tmp_path / "project")


def cache_for(project, document, images: int) -> ImageCache:
    _ = document.images[0].layers
    one = entry_bytes(document.images[0])
    return ImageCache(document, lambda e: document.undo_stack.for_image(e).is_clean and project.holds_saved(e),
                      budget_bytes=one * images)


def test_least_recently_viewed_images_are_released_within_the_budget(tmp_path):
    project, document = project_of(tmp_path)
    cache = cache_for(project, document, images=2)
    for entry in document.images:
        _ = entry.layers
        cache.touch(entry)
        assert cache.loaded_bytes <= cache.budget_bytes
    assert [e.loaded for e in document.images] == [False, False, False, False, True, True]
    again = document.images[0].layers  # read back from disk, as saved
    assert int(again[0].data.max()) == 0 and document.images[0].label_layers[0].shape == (256, 256)
    project.close()


def test_edited_images_stay_until_saved_and_then_may_go(tmp_path):
    project, document = project_of(tmp_path)
    cache = cache_for(project, document, images=2)
    edited = document.images[0]
    layer = edited.label_layers[0]
    document.undo_stack.push(change_command(layer, (0, 0, 10, 10), np.full((10, 10), 5, layer.data.dtype), "paint"),
                             execute=True)
    cache.touch(edited)
    for entry in document.images[1:]:
        _ = entry.layers
        cache.touch(entry)
    assert edited.loaded and int(edited.label_layers[0].data.max()) == 5  # unsaved: never released
    project.save(document)
    _ = document.images[1].layers
    cache.touch(document.images[1])  # a third image on screen: over the budget again
    assert not edited.loaded  # saved: may go now, the least recently viewed
    assert int(edited.label_layers[0].data.max()) == 5  # and comes back from disk
    project.close()
