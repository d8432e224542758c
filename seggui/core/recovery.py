"""What opening a project repaired after seggui stopped without closing it (crash, kill, power cut).

A save writes new mask files first and then commits one catalogue transaction, so a crash
can leave only harmless debris: mask files the catalogue never pointed at, temporary files
from an unfinished atomic write, a SQLite write-ahead log that was not yet merged, and jobs
still recorded as running. Opening the project clears that debris and this module says what
was done, in one sentence the GUI can show, so the user knows nothing was silently lost.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seggui.core import catalogue as cat
from seggui.core import records
from seggui.core.project_files import is_temporary_mask_name

if TYPE_CHECKING:  # the project module imports this one; avoid the cycle at run time
    from seggui.core.project import Project

@dataclass
class RecoveryReport:
    """The repairs made while opening a project; empty when the last session closed cleanly."""

    orphan_masks_removed: list[str] = field(default_factory=list)  # written by a save that never committed
    temporary_files_removed: list[str] = field(default_factory=list)  # unfinished atomic writes
    interrupted_jobs: list[str] = field(default_factory=list)  # job ids marked failed: interrupted
    journal_replayed: bool = False  # the SQLite write-ahead log held committed changes to merge
    problems: list[str] = field(default_factory=list)  # repairs that could not be made (read-only folder)

    @property
    def recovered(self) -> bool:
        """True when the previous session ended without closing the project."""
        return bool(self.orphan_masks_removed or self.temporary_files_removed
                    or self.interrupted_jobs or self.journal_replayed)

    @property
    def is_empty(self) -> bool:
        return not (self.recovered or self.problems)

    def sentence(self) -> str:
        """One human sentence for a status bar or message box ("" when there is nothing to say)."""
        if self.is_empty:
            return ""
        parts = []
        if self.journal_replayed:
            parts.append("applied the catalogue changes saved just before it stopped")
        unfinished = len(self.orphan_masks_removed) + len(self.temporary_files_removed)
        if unfinished:
            parts.append(f"removed {unfinished} file{'s' if unfinished != 1 else ''} from a save that "
                         "did not finish (the last completed save is intact)")
        if self.interrupted_jobs:
            count = len(self.interrupted_jobs)
            parts.append(f"marked {count} job{'s' if count != 1 else ''} that was running as interrupted")
        text = ""
        if parts:
            text = "seggui was not closed normally last time; on opening it " + _join(parts) + "."
        if self.problems:
            text = (text + " " if text else "") + "Could not finish recovery: " + "; ".join(self.problems) + "."
        return text


def _join(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def pending_journal_bytes(folder: str | Path) -> int:
    """Size of the catalogue's write-ahead log before opening (call before connecting).

    A clean close merges and deletes the log; a non-empty one means the last session was
    cut short and SQLite is about to replay committed transactions from it.
    """
    wal = Path(folder) / (cat.CATALOGUE_NAME + "-wal")
    try:
        return wal.stat().st_size
    except OSError:
        return 0


def recovery_report(project: "Project", journal_bytes: int = 0) -> RecoveryReport:
    """Clear crash debris from an opened project and describe what was done.

    Safe to call on every open: a cleanly closed project yields an empty report. Repairs
    that fail (a read-only folder) are listed in `problems`; they never stop the open.
    """
    report = RecoveryReport(journal_replayed=journal_bytes > 0)
    try:
        removed = project.remove_orphan_masks()
    except (OSError, sqlite3.Error) as error:
        report.problems.append(f"leftover mask files could not be removed ({error})")
        removed = []
    for name in removed:
        if is_temporary_mask_name(name):
            report.temporary_files_removed.append(name)
        else:
            report.orphan_masks_removed.append(name)
    try:
        report.interrupted_jobs = records.mark_interrupted_jobs(project.connection)
    except sqlite3.Error as error:
        report.problems.append(f"running jobs could not be marked interrupted ({error})")
    return report
