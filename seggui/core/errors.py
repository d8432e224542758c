"""The project's own error types. Every message a user sees names the file and the problem."""

from __future__ import annotations

from pathlib import Path


class SegguiError(Exception):
    """Base of every error seggui reports to a user (CLI exit 2, GUI message box)."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ImageReadError(SegguiError):
    """An image file is missing, corrupt, truncated, mislabelled or too large."""


class FormatError(SegguiError):
    """An annotation file is malformed, hostile or inconsistent with its images."""


class ProjectError(SegguiError):
    """A project folder or catalogue cannot be read or written."""


class ModelError(SegguiError):
    """Model weights or a model card are missing, corrupt or unsafe."""


class TrainingError(SegguiError):
    """Training data or options are unusable."""
