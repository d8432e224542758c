"""Reading and naming files from folders someone else made (a shared project, a mailed model).

Three rules, used by every reader of project and model folders:

- a file is opened only if it is a regular file: a FIFO or device would block the reader
  forever (opening a FIFO waits for a writer), so the open is non-blocking and the kind is
  checked on the opened descriptor, which also closes the gap between a check and the open;
- a path named by a project or model folder must stay inside that folder once symlinks are
  resolved: a `../` path, an absolute path or a symlink pointing elsewhere is refused;
- ids that become parts of file names are plain identifiers, never path parts.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

from seggui.core.errors import SegguiError

# Ids seggui itself makes are hex (uuid4) or short names; anything with a separator, a dot
# run or a control character could steer a file name out of its folder.
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,127}\Z")


class UnsafePathError(SegguiError):
    """A path from a project or model folder points outside it, or at something not a file."""


def is_identifier(text: object) -> bool:
    """True for ids safe to use as a file-name part: letters, digits, '-' and '_' (<= 128)."""
    return isinstance(text, str) and bool(_IDENTIFIER.match(text))


def check_identifier(text: object, what: str, path: str | Path | None = None) -> str:
    if not is_identifier(text):
        raise UnsafePathError(f"{what} {text!r} is not a plain identifier (letters, digits, '-', '_')", path)
    return text  # type: ignore[return-value]


def _kind_name(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check_regular(path: str | Path, what: str = "file") -> os.stat_result:
    """stat() the path (following symlinks) and refuse anything but a regular file."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise UnsafePathError(f"{what} not found", path) from None
    except OSError as error:
        raise UnsafePathError(f"{what} cannot be read ({error.strerror or error})", path) from None
    if not stat.S_ISREG(status.st_mode):
        raise UnsafePathError(f"{what} is {_kind_name(status.st_mode)}, not a regular file", path)
    return status


def check_not_link(path: str | Path, what: str = "file", missing: str | None = None) -> os.stat_result:
    """lstat() the path: refuse a symbolic link (its target could be anywhere) or anything but a
    regular file. `missing` replaces the message for a file that does not exist."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        raise UnsafePathError(missing or f"{what} not found", path) from None
    except OSError as error:
        raise UnsafePathError(f"{what} cannot be read ({error.strerror or error})", path) from None
    if stat.S_ISLNK(status.st_mode):
        raise UnsafePathError(f"{what} is a symbolic link to {os.path.realpath(path)}; seggui does not follow "
                              "links here", path)
    if not stat.S_ISREG(status.st_mode):
        raise UnsafePathError(f"{what} is {_kind_name(status.st_mode)}, not a regular file", path)
    return status


def open_regular(path: str | Path, what: str = "file", follow_symlinks: bool = True) -> BinaryIO:
    """Open for reading without ever blocking: refuses FIFOs, devices, sockets and folders.

    `follow_symlinks=False` also refuses a symlink as the last path part (O_NOFOLLOW).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UnsafePathError(f"{what} not found", path) from None
    except IsADirectoryError:
        raise UnsafePathError(f"{what} is a folder, not a regular file", path) from None
    except OSError as error:
        if not follow_symlinks and os.path.islink(path):
            raise UnsafePathError(f"{what} is a symbolic link; seggui does not follow links here", path) from None
        raise UnsafePathError(f"{what} cannot be read ({error.strerror or error})", path) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnsafePathError(f"{what} is {_kind_name(mode)}, not a regular file", path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # regular files never block; later reads behave as usual
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes_limited(path: str | Path, limit: int, what: str = "file",
                       follow_symlinks: bool = True) -> bytes:
    """The whole file, refused (not read) when it is larger than `limit` bytes."""
    with open_regular(path, what, follow_symlinks) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise UnsafePathError(f"{what} is {size:,} bytes, above the limit of {limit:,} bytes", path)
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew while being read
        raise UnsafePathError(f"{what} is above the limit of {limit:,} bytes", path)
    return data


def contained_path(folder: str | Path, relative: object, what: str = "file") -> Path:
    """`folder / relative`, refused unless it lies inside `folder` with symlinks resolved.

    `relative` must be a relative path without `..` parts; the resolved result (symlinks
    followed) must still be inside the resolved folder, so a link to elsewhere is refused.
    """
    root = Path(folder).resolve()
    if not isinstance(relative, str) or not relative or "\x00" in relative:
        raise UnsafePathError(f"{what} has no usable name ({relative!r})", root)
    candidate = Path(relative)
    if candidate.is_absolute() or candidate.drive or ".." in candidate.parts or "\\" in relative:
        raise UnsafePathError(f"{what} {relative!r} points outside the folder", root)
    path = root / candidate
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop
        raise UnsafePathError(f"{what} {relative!r} cannot be resolved ({error})", root) from None
    if resolved != root and root not in resolved.parents:
        raise UnsafePathError(f"{what} {relative!r} is a link to {resolved}, outside the folder", root)
    return path


def is_inside(folder: str | Path, path: str | Path) -> bool:
    """True when `path` (symlinks resolved) lies inside `folder` (resolved)."""
    root = Path(folder).resolve()
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return resolved == root or root in resolved.parents


def real_folder(path: str | Path, what: str = "folder") -> Path:
    """Refuse a folder that is a symlink (its contents would be someone else's)."""
    path = Path(path)
    if path.is_symlink():
        raise UnsafePathError(f"{what} is a symbolic link to {os.path.realpath(path)}; "
                              "seggui does not follow links inside a project", path)
    return path
