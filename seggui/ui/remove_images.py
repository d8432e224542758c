"""Image > Remove from project…: take the selected images out of the project, undoably.

The image files on disk are never touched: only the project forgets them (their catalogue
rows go at the next save). One confirmation names how many images and labelled cells go;
Ctrl+Z puts them back with their layers (the step lives in the project's history, see
seggui/core/history.py PROJECT_HISTORY).
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from seggui.core.document import ImageEntry
from seggui.core.project import count_instances


def labelled_cells(entry: ImageEntry) -> int:
    """Cells in the image's label layers (counted now when loaded, else as last saved)."""
    if entry.loaded:
        return sum(count_instances(layer.data) for layer in entry.label_layers)
    return entry.instance_count


def unreadable(entries: list[ImageEntry]) -> list[ImageEntry]:
    """Images whose layers cannot be loaded now (file missing or changed): Undo cannot keep
    their saved labels, which leave the project's folder at the next save."""
    result = []
    for entry in entries:
        try:
            entry.layers
        except Exception:  # noqa: BLE001 - any reason the file cannot be read
            result.append(entry)
    return result


def confirmation_text(entries: list[ImageEntry]) -> str:
    cells = sum(labelled_cells(e) for e in entries)
    what = f"“{entries[0].name}”" if len(entries) == 1 else f"{len(entries)} images"
    cells_text = "no labelled cells" if cells == 0 else f"{cells} labelled cell{'s' if cells != 1 else ''}"
    text = (f"Remove {what} from the project, with {cells_text}?\n\n"
            "The image files on disk are not deleted. Edit > Undo (Ctrl+Z) brings them back.")
    lost = [e for e in unreadable(entries) if e.instance_count]
    if lost:
        names = ", ".join(e.name for e in lost[:5]) + (" …" if len(lost) > 5 else "")
        text += (f"\n\nBut {len(lost)} of them cannot be read now ({names}): their saved labels "
                 f"({sum(e.instance_count for e in lost)} cells) are removed with them and Undo cannot bring "
                 "those labels back once the project is saved.")
    return text


def remove_selected_images(window, ask: bool = True) -> int:
    """Ask, then remove the images selected in the image list; returns how many went."""
    document = window.document
    if document is None or window.project is None or window.project.read_only:
        return 0
    entries = [e for e in window.image_list.selected_images() if e in document.images]
    if not entries:
        return 0
    if ask:
        answer = QMessageBox.question(
            window, "Remove from project", confirmation_text(entries),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return 0
    # Show the image after the removed ones (or before them) rather than none.
    gone = {id(e) for e in entries}
    last = max(document.index_of(e) for e in entries)
    after = [e for e in document.images[last + 1:] if id(e) not in gone]
    before = [e for e in document.images[:last] if id(e) not in gone]
    following = after[0] if after else (before[-1] if before else None)
    current = window.current_image()
    document.remove_images(entries)
    if current is None or id(current) in gone:
        window.image_list.set_current_image(following)
    else:
        window.image_list.set_current_image(current)
    window.status.showMessage(
        f"Removed {len(entries)} image{'s' if len(entries) != 1 else ''} from the project (Ctrl+Z brings "
        f"{'them' if len(entries) != 1 else 'it'} back)", 8000)
    return len(entries)
