"""The error log: tracebacks go to a rotating file in the user data folder, not to dialogs.

    from seggui.core import logs
    logs.set_debug(True)            # `seggui --debug`: dialogs show tracebacks too
    where = logs.log_error("Import failed", error)   # the log file's path, or None

The file is user_data_dir()/logs/seggui.log ($SEGGUI_LOG_DIR replaces the folder), at most
1 MB, with three older files kept (seggui.log.1 ...).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import traceback
from pathlib import Path

from seggui.core.paths import user_data_dir

LOG_NAME = "seggui.log"
MAX_BYTES = 1_000_000
BACKUPS = 3

_debug = False
_logger = logging.getLogger("seggui.errors")
_logger.propagate = False  # the file only; never the console of a GUI user
_handler: logging.Handler | None = None
_handler_path: Path | None = None


def set_debug(enabled: bool) -> None:
    global _debug
    _debug = bool(enabled)


def debug_enabled() -> bool:
    return _debug or os.environ.get("SEGGUI_DEBUG", "") not in ("", "0")


def log_path() -> Path:
    configured = os.environ.get("SEGGUI_LOG_DIR")
    folder = Path(configured) if configured else user_data_dir() / "logs"
    return folder / LOG_NAME


def traceback_text(error: BaseException) -> str:
    """The traceback a background job recorded, else the one the exception carries."""
    text = getattr(error, "traceback_text", "")
    if not text and error.__traceback__ is not None:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return text


def _ensure_handler() -> Path | None:
    global _handler, _handler_path
    path = log_path()
    if _handler is not None and _handler_path == path:
        return path
    if _handler is not None:
        _logger.removeHandler(_handler)
        _handler.close()
        _handler, _handler_path = None, None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                       encoding="utf-8", delay=True)
    except OSError:
        return None  # no log is better than an error while reporting an error
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)
    _handler, _handler_path = handler, path
    return path


def log_error(title: str, error: BaseException | str) -> Path | None:
    """Write the error (and its traceback, when there is one) to the log; return the log's
    path, or None when it cannot be written."""
    path = _ensure_handler()
    if path is None:
        return None
    if isinstance(error, BaseException):
        details = traceback_text(error)
        message = f"{title}: {type(error).__name__}: {error}" + (f"\n{details.rstrip()}" if details else "")
    else:
        message = f"{title}: {error}"
    try:
        _logger.error(message)
        _handler.flush()
    except Exception:  # noqa: BLE001 - logging must never raise into the caller
        return None
    return path if path.exists() else None
