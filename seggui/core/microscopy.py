"""Microscope files (Zeiss CZI, Leica LIF, Nikon ND2, OME-Zarr), read one 2-D plane at a time.

The readers are the optional extra `pip install 'seggui[microscopy]'`: bioio with its CZI,
ND2 and OME-Zarr plugins, and liffile for LIF (bioio-lif cannot select a plane of an XZ
scan). Some are GPL (bioio-czi, aicspylibczi), so seggui itself stays BSD without them.

Pages: a file holds scenes, each a stack of planes over T and Z (whatever other non-channel
axes it has). `page` numbers every plane of every scene in turn, scenes outermost, then T,
then Z, so that callers that know only `page` (projects, `seggui predict`) reach them all.
Channels (C, and RGB samples) become the last axis; bit depth is kept. An XZ scan (Y of 1)
is read as its XZ section. Sizes come from metadata and pass the image limits before any
pixel is decoded.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from seggui.core.errors import ImageReadError

EXTRA = "pip install 'seggui[microscopy]'"
MICROSCOPY_SUFFIXES = {".czi": "czi", ".lif": "lif", ".nd2": "nd2", ".zarr": "ome-zarr"}
_LABELS = {"czi": "Zeiss CZI", "lif": "Leica LIF", "nd2": "Nikon ND2", "ome-zarr": "OME-Zarr"}
# The module each kind is read with: a bioio plugin, or liffile itself.
_MODULES = {"czi": ("bioio", "bioio_czi"), "nd2": ("bioio", "bioio_nd2"), "ome-zarr": ("bioio", "bioio_ome_zarr"),
            "lif": ("liffile",)}
KINDS = tuple(_LABELS)


def microscopy_kind_from_magic(head: bytes) -> str | None:
    if head.startswith(b"ZISRAWFILE"):
        return "czi"
    if head[:4] == b"\x70\x00\x00\x00" and len(head) > 8 and head[8] == 0x2A:  # LIF: test code, size, XML mark
        return "lif"
    if head.startswith(b"\xda\xce\xbe\x0a"):  # ND2 chunk signature (ND2 from NIS-Elements 4 on)
        return "nd2"
    return None


def is_zarr_folder(path: Path) -> bool:
    return path.suffix.lower() == ".zarr" and path.is_dir() and any(
        (path / name).is_file() for name in ("zarr.json", ".zattrs", ".zgroup"))


def _installed(kind: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in _MODULES[kind])


def readable_microscopy_suffixes() -> tuple[str, ...]:
    return tuple(suffix for suffix, kind in MICROSCOPY_SUFFIXES.items() if _installed(kind))


def _modules(kind: str, path: Path) -> list[Any]:
    try:
        return [importlib.import_module(name) for name in _MODULES[kind]]
    except ImportError:
        raise ImageReadError(
            f"{_LABELS[kind]} file: reading it needs the optional microscope readers ({EXTRA})", path) from None


@dataclass
class Scene:
    name: str
    rows: int
    cols: int
    channels: int
    dtype: np.dtype
    planes: dict[str, int]  # the axes a page steps through, with their sizes
    pixel_size_um: tuple[float | None, float | None] = (None, None)  # (x, y)
    channel_names: list[str] = field(default_factory=list)

    @property
    def plane_count(self) -> int:
        return int(np.prod(list(self.planes.values()))) if self.planes else 1


class _Bioio:
    def __init__(self, path: Path, kind: str):
        bioio, plugin = _modules(kind, path)
        self.kind = kind
        self.image = bioio.BioImage(path, reader=plugin.Reader)
        self.rows_axes: list[str] = []  # per scene: Y, or Z for an XZ scan
        self.scenes = [self._scene(index, name) for index, name in enumerate(self.image.scenes)]

    def _scene(self, index: int, name: str) -> Scene:
        self.image.set_scene(index)
        sizes = dict(zip(self.image.dims.order, self.image.shape))
        rows = "Z" if sizes.get("Y", 1) == 1 and sizes.get("Z", 1) > 1 else "Y"
        self.rows_axes.append(rows)
        planes = {a: n for a, n in sizes.items() if a not in (rows, "X", "C", "S") and n > 1}
        pixel = self.image.physical_pixel_sizes
        names = [str(n) for n in (self.image.channel_names or [])] if "S" not in sizes else []
        return Scene(str(name), int(sizes[rows]), int(sizes["X"]), sizes.get("C", 1) * sizes.get("S", 1),
                     np.dtype(self.image.dtype), planes, (pixel.X, pixel.Z if rows == "Z" else pixel.Y), names)

    def read(self, scene: int, index: dict[str, int]) -> np.ndarray:
        self.image.set_scene(scene)
        order = self.image.dims.order
        wanted = self.rows_axes[scene] + "X" + "".join(a for a in "CS" if a in order)
        fixed = {a: index.get(a, 0) for a in order if a not in wanted}
        data = np.asarray(self.image.get_image_dask_data(wanted, **fixed).compute())
        if self.kind == "czi" and "S" in order:
            data = data[..., ::-1]  # CZI stores RGB samples as BGR
        return data.reshape(data.shape[0], data.shape[1], -1)

    def close(self) -> None:
        close = getattr(self.image, "close", None)  # not every bioio version has it
        if close is not None:
            close()


class _Lif:
    def __init__(self, path: Path):
        (liffile,) = _modules("lif", path)
        # By path: liffile names the file from its handle, and ours (os.fdopen) has a number for a
        # name. The caller has opened the path with open_regular, so it is a regular file.
        self.lif = liffile.LifFile(path)
        self.scenes = [self._scene(image) for image in self.lif.images]

    @staticmethod
    def _scene(image) -> Scene:
        frames = image.frames
        rows, cols = frames.frame_dims[0], frames.frame_dims[-1]
        sizes = dict(frames.sizes)
        channels = sizes.get("C", 1) * sizes.get("S", 1)
        planes = {a: n for a, n in sizes.items() if a not in frames.frame_dims and a not in "CS"}

        def step(axis: str) -> float | None:
            coords = image.coords.get(axis)
            return float(coords[1] - coords[0]) * 1e6 if coords is not None and len(coords) > 1 else None  # m -> µm

        return Scene(str(image.name), int(sizes[rows]), int(sizes[cols]), channels, np.dtype(image.dtype), planes,
                     (step(cols), step(rows)))

    def read(self, scene: int, index: dict[str, int]) -> np.ndarray:
        frames = self.lif.images[scene].frames
        outer = [a for a in frames.sizes if a not in frames.frame_dims]
        channel_counts = [frames.sizes[a] for a in outer if a in "CS"]
        stack = []
        for channel in np.ndindex(*channel_counts):  # one frame per channel, at the page's T/Z
            values = iter(channel)
            key = tuple(next(values) if a in "CS" else index.get(a, 0) for a in outer)
            stack.append(np.asarray(frames[key]))
        return np.stack(stack, axis=-1)

    def close(self) -> None:
        self.lif.close()


@contextlib.contextmanager
def open_source(path: Path, kind: str) -> Iterator[_Bioio | _Lif]:
    """The reader of one microscope file, its scenes read from metadata only; closed after use.

    The readers open the file by path; callers first open it with open_regular (a FIFO is
    refused there rather than blocking a reader).
    """
    try:
        source = _Lif(path) if kind == "lif" else _Bioio(path, kind)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(f"not enough memory to read this {_LABELS[kind]} file's metadata", path) from None
    except Exception as error:  # the readers raise many types on broken files
        raise ImageReadError(f"corrupt or unreadable {_LABELS[kind]} file ({type(error).__name__}: {error})",
                             path) from None
    try:
        yield source
    finally:
        source.close()


def locate(scenes: list[Scene], page: int, path: Path) -> tuple[int, dict[str, int]]:
    """(scene index, {axis: index}) of a page numbered across all scenes."""
    total = sum(s.plane_count for s in scenes)
    if not 0 <= page < total:
        raise ImageReadError(f"plane {page} requested, the file has {total} (all scenes)", path)
    for number, scene in enumerate(scenes):
        if page < scene.plane_count:
            values = np.unravel_index(page, list(scene.planes.values())) if scene.planes else ()
            return number, {a: int(v) for a, v in zip(scene.planes, values)}
        page -= scene.plane_count
    raise AssertionError("unreachable")


def read(source, scene: int, index: dict[str, int], path: Path, kind: str) -> np.ndarray:
    try:
        data = source.read(scene, index)
    except MemoryError:
        raise ImageReadError(f"not enough memory to decode this {_LABELS[kind]} plane", path) from None
    except Exception as error:
        raise ImageReadError(f"corrupt or unreadable {_LABELS[kind]} plane ({type(error).__name__}: {error})",
                             path) from None
    return data[:, :, 0] if data.shape[2] == 1 else data


def metadata_of(scenes: list[Scene], scene: int, index: dict[str, int]) -> dict[str, Any]:
    chosen = scenes[scene]
    metadata: dict[str, Any] = {"scene": scene, "scene_name": chosen.name, "scene_count": len(scenes), **index}
    x, y = chosen.pixel_size_um
    if x:
        metadata.update(PhysicalSizeX=float(x), PhysicalSizeXUnit="µm")
    if y:
        metadata.update(PhysicalSizeY=float(y), PhysicalSizeYUnit="µm")
    if chosen.channel_names:
        metadata["channel_names"] = list(chosen.channel_names)
    return metadata
