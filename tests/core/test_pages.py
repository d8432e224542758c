"""Choosing planes of multi-page files: describe_pages (metadata only), Project.add_images(pages=),
and the physical pixel size carried to the image layer."""

from __future__ import annotations

import numpy as np
import pytest

from seggui.core.document import Document
from seggui.core.errors import ImageReadError
from seggui.core.imageio import describe_pages, pixel_size_um, read_image
from seggui.core.image_sources import describe_images
from seggui.core.project import Project


@pytest.fixture
def stack(tmp_path):
    """An OME-TIFF of 3 T x 4 Z planes, 20x30, 0.5 µm pixels; every plane holds its page number."""
    tifffile = pytest.importorskip("tifffile")
    data = np.arange(12, dtype=np.uint16).reshape(3, 4, 1, 1) * np.ones((1, 1, 20, 30), np.uint16)
    path = tmp_path / "stack.ome.tif"
    tifffile.imwrite(path, data, metadata={"axes": "TZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.25})
    return path


def test_describe_pages_of_a_tiff_stack(stack):
    pages = describe_pages(stack)
    assert [p.index for p in pages] == list(range(12))
    assert (pages[5].t, pages[5].z, pages[5].label) == (1, 1, "t 2, z 2")
    assert (pages[5].height, pages[5].width, pages[5].channels, pages[5].dtype) == (20, 30, 1, "uint16")
    for page in (0, 5, 11):  # the page numbers read_image uses
        assert int(read_image(stack, page=page).array[0, 0]) == page


def test_describe_pages_of_a_single_image(tmp_path):
    import cv2

    path = tmp_path / "one.png"
    cv2.imwrite(str(path), np.zeros((5, 7, 3), np.uint8))
    (page,) = describe_pages(path)
    assert (page.index, page.height, page.width, page.channels, page.label) == (0, 5, 7, 3, "")


def test_describe_pages_of_the_real_lif(shared_data):
    pytest.importorskip("liffile")
    path = shared_data / "microscopy" / "xz-example.lif"
    if not path.is_file():
        pytest.skip("xz-example.lif not in the shared data")
    pages = describe_pages(path)
    assert len(pages) == 44
    assert sorted({p.scene for p in pages}) == [0, 1, 2]
    assert [p.scene_name for p in pages if p.index in (0, 20, 43)] == ["xzt", "xzy", "xz"]
    assert (pages[5].t, pages[5].label) == (5, "scene 1, t 6")
    assert (pages[43].height, pages[43].width, pages[43].channels, pages[43].label) == (512, 512, 2, "scene 3")
    plane = read_image(path, page=43)
    assert plane.array.shape == (512, 512, 2) and plane.metadata["scene_name"] == "xz"


def test_add_images_default_is_page_zero_and_pages_choose_planes(tmp_path, stack):
    project = Project.create(tmp_path / "project")
    document = Document()
    added, problems = project.add_images(document, [stack])
    assert [(e.name, e.source.page) for e in added] == [("stack.ome.tif", 0)] and not problems
    added, problems = project.add_images(document, [stack], pages={stack: [0, 5, 11]})
    assert [(e.name, e.source.page) for e in added] == [("stack.ome.tif [t 2, z 2]", 5),
                                                         ("stack.ome.tif [t 3, z 4]", 11)]
    assert problems == [f"{stack.resolve()} [t 1, z 1]: already in the project"]
    assert int(added[0].image_layer.data[0, 0]) == 5
    added, problems = project.add_images(document, [stack], pages="all")
    assert len(added) == 9 and len(problems) == 3
    project.save(document)
    project.close()
    project, reopened = Project.open(tmp_path / "project")
    assert [e.source.page for e in reopened.images] == [e.source.page for e in document.images]
    assert reopened.images[1].name == "stack.ome.tif [t 2, z 2]"
    assert int(reopened.images[1].image_layer.data[0, 0]) == 5
    project.close()


def test_a_page_out_of_range_is_a_problem_naming_the_file(stack):
    sources, problems = describe_images([stack], pages={stack: [12]})
    assert not sources and str(stack.resolve()) in problems[0] and "plane 12" in problems[0]


def test_bare_hashes_still_mean_page_zero(stack):
    (source,), _ = describe_images([stack])
    sources, problems = describe_images([stack], {source.sha256}, pages={stack: [0, 1]})
    assert [s.page for s in sources] == [1] and len(problems) == 1


def test_pixel_size_reaches_the_image_layer(tmp_path, stack):
    assert read_image(stack).pixel_size_um == (0.5, 0.25)
    project = Project.create(tmp_path / "project")
    document = Document()
    (entry,), _ = project.add_images(document, [stack])
    assert entry.image_layer.pixel_size_um == (0.5, 0.25)
    project.close()


def test_pixel_size_units():
    assert pixel_size_um({"PhysicalSizeX": 200, "PhysicalSizeXUnit": "nm"}) == pytest.approx((0.2, 0.2))
    assert pixel_size_um({"PhysicalSizeX": "0.3"}) == (0.3, 0.3)
    assert pixel_size_um({"PhysicalSizeX": 1, "PhysicalSizeXUnit": "s"}) is None
    assert pixel_size_um({"PhysicalSizeX": 0}) is None
    assert pixel_size_um({}) is None


def test_microscope_pixel_size(shared_data):
    pytest.importorskip("bioio")
    path = shared_data / "microscopy" / "RGB-8bit.czi"
    if not path.is_file():
        pytest.skip("RGB-8bit.czi not in the shared data")
    try:
        image = read_image(path)
    except ImageReadError as error:
        pytest.skip(f"CZI reader not usable here: {error}")
    assert image.pixel_size_um == pytest.approx((1.0833, 1.0833), rel=1e-3)


def _blobs_stack(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    yy, xx = np.mgrid[:48, :48]
    planes = []
    for count in range(3):  # plane n has n + 1 bright discs
        plane = np.zeros((48, 48), np.uint8)
        for i in range(count + 1):
            plane[(yy - 10 - 13 * i) ** 2 + (xx - 24) ** 2 < 25] = 200
        planes.append(plane)
    path = tmp_path / "blobs.tif"
    tifffile.imwrite(path, np.stack(planes), photometric="minisblack", metadata={"axes": "ZYX"})
    return path


def test_seggui_predict_page_and_all_pages(tmp_path, capsys):
    from seggui.cli import main

    path = _blobs_stack(tmp_path)
    out = tmp_path / "out"
    assert main(["predict", str(path), "--model", "classic", "--out", str(out), "--page", "2"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["blobs_page2.png"]
    assert main(["predict", str(path), "--model", "classic", "--out", str(out), "--all-pages"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["blobs.png", "blobs_page1.png", "blobs_page2.png"]
    assert "3 of 3 planes segmented" in capsys.readouterr().err
    assert read_image(out / "blobs_page2.png").array.shape == (48, 48)
    assert main(["predict", str(path), "--model", "classic", "--out", str(out), "--page", "3"]) == 1
    assert "plane 3 requested" in capsys.readouterr().err


def test_an_empty_selection_adds_nothing_of_that_file(stack):
    assert describe_images([stack], pages={stack: []}) == ([], [])
