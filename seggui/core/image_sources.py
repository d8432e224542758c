"""Describing image files for a project: header sizes, content hashes, planes, names.

No pixels are decoded and nothing here touches a Document, so it runs on a worker thread
(the window hashes many added files there) as well as in scripts; `Project.add_sources`
then turns the descriptions into images of a project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from seggui.core.atomic import sha256_file
from seggui.core.document import ImageSource
from seggui.core.errors import ImageReadError, SegguiError
from seggui.core.image_formats import image_files
from seggui.core.imageio import describe_pages, image_size


def source_for_file(path: str | Path, page: int = 0) -> ImageSource:
    """Describe an image file (header size, content hash) without decoding its pixels."""
    path = Path(path).resolve()
    height, width = image_size(path)
    stat = path.stat()
    return ImageSource(path, height, width, sha256=sha256_file(path), file_size=stat.st_size,
                       mtime_ns=stat.st_mtime_ns, page=page)


def image_paths(paths: list[str | Path]) -> list[Path]:
    """Files named, and the images directly inside folders named, in order."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and path.suffix.lower() != ".zarr":
            files.extend(image_files(path))
        else:
            files.append(path)
    return files


@dataclass
class PlaneSource(ImageSource):
    """One chosen plane of a multi-page file: `label` ("scene 2, z 5") goes into the image's name."""

    label: str = ""


def source_key(source: ImageSource) -> tuple[str, int]:
    """What makes an image a duplicate: the same content and the same plane of it."""
    return source.sha256, source.page


def _known_keys(known: set | frozenset) -> set[tuple[str, int]]:
    """Known images as (hash, page); a bare hash (what callers passed before pages) is page 0."""
    return {(item, 0) if isinstance(item, str) else (str(item[0]), int(item[1])) for item in known}


def sources_for_file(path: str | Path, pages: list[int] | str = (0,)) -> list[ImageSource]:
    """Describe chosen planes of one file (a list of page numbers, or "all"), hashing it once.

    Page 0 alone is `source_for_file`, named after the file as always; otherwise every plane
    of a multi-page file is named after its scene and plane ("file.lif [scene 2, z 5]").
    """
    path = Path(path).resolve()
    if pages != "all" and list(pages) == [0]:
        return [source_for_file(path)]
    infos = describe_pages(path)
    if pages == "all":
        chosen = infos
    else:
        wanted = list(dict.fromkeys(int(p) for p in pages))
        bad = [p for p in wanted if not 0 <= p < len(infos)]
        if bad:
            raise ImageReadError(f"plane {bad[0]} requested, the file has {len(infos)} (numbered from 0)", path)
        chosen = [infos[p] for p in wanted]
    if not chosen:
        return []
    stat = path.stat()
    digest = sha256_file(path)
    named = len(infos) > 1 and (len(chosen) > 1 or chosen[0].index != 0)
    return [PlaneSource(path, info.height, info.width, info.channels, info.dtype, digest, stat.st_size,
                        stat.st_mtime_ns, info.index, info.label if named else "") for info in chosen]


def source_name(source: ImageSource) -> str:
    label = getattr(source, "label", "")
    return f"{source.path.name} [{label}]" if label else source.path.name


def describe_images(paths: list[str | Path], known_hashes: set | frozenset = frozenset(),
                    progress: Callable[[int, int, str], None] | None = None,
                    should_stop: Callable[[], bool] | None = None,
                    pages: dict[str | Path, list[int] | str] | str | None = None,
                    ) -> tuple[list[ImageSource], list[str]]:
    """Header sizes and content hashes of image files (no pixels decoded; thread-safe).

    `pages` chooses the planes of multi-page files (microscope scenes, T, Z; TIFF stacks):
    None = page 0 of every file, "all" = every plane of every file, or {path: [page, ...] or
    "all"} (files not named: page 0). Each plane becomes its own source.

    Returns (sources, problems); a plane whose content and page are already in `known_hashes`
    (hashes, for page 0, or (hash, page) pairs), or twice in `paths`, is a problem ("already in
    the project"), not a second source.
    """
    files = image_paths(paths)
    known = _known_keys(known_hashes)
    chosen = {} if pages is None or isinstance(pages, str) else {Path(k).resolve(): v for k, v in pages.items()}
    sources, problems = [], []
    for number, path in enumerate(files):
        if should_stop is not None and should_stop():
            break
        if progress is not None:
            progress(number, len(files), f"Reading {path.name}")
        wanted = pages if isinstance(pages, str) else chosen.get(path.resolve(), [0])
        try:
            found = sources_for_file(path, wanted)
        except SegguiError as error:
            problems.append(str(error))
            continue
        except OSError as error:
            problems.append(f"{path}: {error.strerror or error}")
            continue
        for source in found:
            if source_key(source) in known:
                label = getattr(source, "label", "")
                problems.append(f"{path}{f' [{label}]' if label else ''}: already in the project")
                continue
            known.add(source_key(source))
            sources.append(source)
    return sources, problems
