"""Who has a project open: a lock file, so two openers do not overwrite each other's work.

A project on a shared drive may be opened by two windows or two colleagues. Two writers
each save their own copy of every image's status, so one silently reverts the other; and
one's clean-up after opening would delete the label files the other is about to commit.
Opening a project for writing therefore takes `seggui-project.lock` (host, process, user,
time, a random token); a second opener is told who holds it and may open the project
read-only, or take over a lock whose holder is gone (its process no longer runs on this
host, or it has not saved for `STALE_AFTER_S`).

The lock is advisory and written atomically: created with a hard link (exclusive, with its
contents in place), replaced with a rename on take-over, removed on close when it is still
ours. The holder refreshes its time stamp on every save.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import stat
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from seggui import __version__
from seggui.core.errors import ProjectError
from seggui.core.safe_files import UnsafePathError, read_bytes_limited

LOCK_NAME = "seggui-project.lock"
STALE_AFTER_S = 24 * 3600  # a holder on another host that has not saved for a day


@dataclass(frozen=True)
class LockHolder:
    host: str
    pid: int
    user: str
    since: float  # when the project was opened
    refreshed: float  # last save
    token: str
    app_version: str = ""

    @classmethod
    def mine(cls) -> "LockHolder":
        now = time.time()
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no user name in some containers
            user = str(os.getuid()) if hasattr(os, "getuid") else "?"
        return cls(socket.gethostname(), os.getpid(), user, now, now, uuid.uuid4().hex, __version__)

    def describe(self) -> str:
        opened = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.since))
        saved = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.refreshed))
        return f"{self.user} on {self.host} (process {self.pid}), open since {opened}, last saved {saved}"

    @property
    def is_stale(self) -> bool:
        """The holder is gone: its process ended on this host, or it has been silent too long."""
        if self.host == socket.gethostname():
            return not _process_alive(self.pid)
        return time.time() - self.refreshed > STALE_AFTER_S

    @property
    def is_this_process(self) -> bool:
        return self.host == socket.gethostname() and self.pid == os.getpid()


class ProjectLockedError(ProjectError):
    """Another seggui has this project open for writing."""

    def __init__(self, folder: Path, holder: LockHolder):
        self.holder = holder
        state = "its seggui no longer runs" if holder.is_stale else "it may still be working in it"
        super().__init__(f"the project is open in another seggui: {holder.describe()}; {state}. "
                         "Open it read-only, or take over the lock if that seggui is closed", folder)


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True


def lock_path(folder: Path) -> Path:
    return Path(folder) / LOCK_NAME


def read_lock(folder: Path) -> LockHolder | None:
    """The current holder, or None when nobody holds the project (a broken lock counts as none)."""
    path = lock_path(folder)
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ProjectError(f"the lock file cannot be read ({error.strerror or error})", path) from None
    if stat.S_ISLNK(status.st_mode) or not stat.S_ISREG(status.st_mode):
        raise ProjectError("the lock file is not a regular file (a link or something else); remove it", path)
    try:
        data = json.loads(read_bytes_limited(path, 64 * 1024, "lock file"))
        return LockHolder(str(data["host"]), int(data["pid"]), str(data["user"]), float(data["since"]),
                          float(data["refreshed"]), str(data["token"]), str(data.get("app_version", "")))
    except (UnsafePathError, ValueError, KeyError, TypeError):
        return None  # half-written or foreign: nobody can be said to hold it


def _write_temporary(folder: Path, holder: LockHolder) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{LOCK_NAME}.", suffix=".tmp", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(holder), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(name, 0o644)
    return Path(name)


def acquire(folder: Path, take_over: bool = False) -> LockHolder:
    """Take the lock for this process; ProjectLockedError when another live seggui holds it.

    A stale lock, or one this process itself holds (a project reopened without closing),
    is taken over without asking; `take_over` takes over any lock.
    """
    folder = Path(folder)
    mine = LockHolder.mine()
    try:
        temporary = _write_temporary(folder, mine)
    except OSError:
        return mine  # a read-only folder: nobody can save here anyway, so there is nothing to guard
    try:
        try:
            os.link(temporary, lock_path(folder))  # exclusive create, contents already in place
            return mine
        except FileExistsError:
            pass
        except OSError:  # file systems without hard links: exclusive create by O_EXCL
            try:
                descriptor = os.open(lock_path(folder), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pass
            else:
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    json.dump(asdict(mine), handle)
                return mine
        holder = read_lock(folder)
        if holder is not None and not (take_over or holder.is_stale or holder.is_this_process):
            raise ProjectLockedError(folder, holder)
        os.replace(temporary, lock_path(folder))
        temporary = None
        return mine
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def refresh(folder: Path, mine: LockHolder) -> LockHolder:
    """Update the time stamp (on every save), only while the lock is still ours."""
    holder = read_lock(folder)
    if holder is None or holder.token != mine.token:
        return mine
    fresh = LockHolder(mine.host, mine.pid, mine.user, mine.since, time.time(), mine.token, mine.app_version)
    try:
        temporary = _write_temporary(folder, fresh)
        os.replace(temporary, lock_path(folder))
    except OSError:
        return mine
    return fresh


def release(folder: Path, mine: LockHolder) -> None:
    """Remove the lock if it is still ours (someone may have taken it over)."""
    try:
        holder = read_lock(folder)
    except ProjectError:
        return
    if holder is not None and holder.token == mine.token:
        lock_path(folder).unlink(missing_ok=True)
