"""File menu work: new / open / save / save as, adding images, recent projects, closing.

Every operation that could lose edits asks first; every failure is shown with the file
it concerns, and the edits stay in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from seggui.core.catalogue import CATALOGUE_NAME
from seggui.core.document import Document
from seggui.core.errors import SegguiError
from seggui.core.image_formats import readable_suffixes
from seggui.core.imageio import describe_pages, is_image_file, is_zarr_folder
from seggui.core.microscopy import MICROSCOPY_SUFFIXES
from seggui.core.image_sources import describe_images, image_paths, source_key
from seggui.core.project import Project
from seggui.jobs import Job, JobContext
from seggui.ui.dialogs import JobProgressDialog
from seggui.core.project_lock import ProjectLockedError
from seggui.ui.dialogs import ask_unsaved_changes, error_text, show_error

if TYPE_CHECKING:
    from seggui.ui.main_window import MainWindow


def image_filter() -> str:
    """The Add images dialog's filter: exactly the suffixes readable here (microscope files only
    with their readers installed; OME-Zarr is a folder, which this dialog cannot pick)."""
    patterns = " ".join(f"*{suffix}" for suffix in readable_suffixes() if suffix != ".zarr")
    return f"Images ({patterns});;All files (*)"


# Files that may hold several planes (only files named are asked about; folders add page 0).
MULTI_PAGE_SUFFIXES = {".tif", ".tiff", ".btf", *MICROSCOPY_SUFFIXES}
BACKGROUND_ADD_FILES = 20  # more files than this are hashed on a worker, with a progress dialog
SAVE_ERROR_ADVICE = ("Your edits are kept in memory. Free some space or fix the folder's permissions, "
                     "then File > Save, or use File > Save as… to save the project in another folder.")


class _WaitCursor:
    def __enter__(self):
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)

    def __exit__(self, *exc):
        QGuiApplication.restoreOverrideCursor()


def is_project_folder(path: str | Path) -> bool:
    path = Path(path)
    return (path / CATALOGUE_NAME).is_file() or (path.is_file() and path.name == CATALOGUE_NAME)


class FileOperations:
    def __init__(self, window: "MainWindow"):
        self.window = window
        self._last_reported_error = ""

    @property
    def settings(self):
        return self.window.settings

    # -- choosing folders ------------------------------------------------------------
    def _choose_folder(self, title: str, purpose: str) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self.window, title, self.settings.last_folder(purpose))
        if not folder:
            return None
        self.settings.set_last_folder(purpose, folder)
        return Path(folder)

    def _choose_new_project_folder(self, title: str) -> Path | None:
        """A folder for a new project; a refused one (a project already, or not empty and the
        person says No) brings the chooser back, since they still want a project. None when
        the chooser is cancelled."""
        while True:
            folder = self._choose_folder(title, "project")
            if folder is None:
                return None
            if is_project_folder(folder):
                show_error(self.window, title, f"{folder}: a project already exists here",
                           "Choose an empty folder, or open this project with File > Open project….")
                continue
            if folder.is_dir() and any(folder.iterdir()):
                answer = QMessageBox.question(
                    self.window, title, f"{folder} is not empty. Create the project inside it anyway?\n"
                    "(The project adds a catalogue file and a masks folder; nothing else is changed.)\n\n"
                    "No: choose another folder.")
                if answer != QMessageBox.StandardButton.Yes:
                    continue
            return folder

    # -- projects --------------------------------------------------------------------
    def new_project(self, folder: str | Path | None = None) -> bool:
        # The folder first: cancelling its dialog must leave the open project and its work alone.
        folder = Path(folder) if folder is not None else self._choose_new_project_folder("New project")
        if folder is None:
            return False
        if not self.confirm_discard_or_save():
            return False
        try:
            project = Project.create(folder)
        except SegguiError as error:
            show_error(self.window, "Cannot create the project", error)
            return False
        self.window.set_project(project, Document())
        self.settings.add_recent_project(project.folder)
        return True

    def open_project(self, folder: str | Path | None = None) -> bool:
        if folder is None:
            folder = self._choose_folder("Open project", "project")
            if folder is None:
                return False
        if not self.confirm_discard_or_save():
            return False
        try:
            with _WaitCursor():
                project, document = Project.open(folder)
        except ProjectLockedError as locked:
            opened = self._open_locked(folder, locked)
            if opened is None:
                return False
            project, document = opened
        except SegguiError as error:
            if not Path(folder).exists():
                self.settings.remove_recent_project(folder)
            show_error(self.window, "Cannot open the project", error)
            return False
        self.window.set_project(project, document)
        self.settings.add_recent_project(project.folder)
        self._tell_recovery(project)
        problems = [e.problem for e in document.images if e.problem]
        if problems:
            self.window.status.showMessage(
                f"{len(problems)} image(s) have a problem (see the image list tooltips): {problems[0]}", 15000)
        return True

    def _open_locked(self, folder, locked: ProjectLockedError) -> tuple[Project, Document] | None:
        """Another seggui holds the project: say who, and offer read-only or taking over."""
        holder = locked.holder
        box = QMessageBox(QMessageBox.Icon.Warning, "Project already open",
                          f"{Path(folder).name} is open in another seggui:\n{holder.describe()}.", parent=self.window)
        if holder.is_stale:
            box.setInformativeText("That seggui no longer runs (or has not saved for a day). Take over to "
                                   "work in the project, or open it read-only.")
        else:
            box.setInformativeText("Two seggui windows saving one project overwrite each other's work. Open "
                                   "it read-only (Save As keeps your changes elsewhere), or take over only "
                                   "if that seggui is really closed.")
        read_only = box.addButton("Open read-only", QMessageBox.ButtonRole.AcceptRole)
        take_over = box.addButton("Take over", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(take_over if holder.is_stale else read_only)
        box.exec()
        if box.clickedButton() not in (read_only, take_over):
            return None
        try:
            with _WaitCursor():
                return Project.open(folder, read_only=box.clickedButton() is read_only,
                                    take_over=box.clickedButton() is take_over)
        except SegguiError as error:
            show_error(self.window, "Cannot open the project", error)
            return None

    def _tell_recovery(self, project: Project) -> None:
        """After a crash, say what opening the project repaired (non-modal: work can go on)."""
        text = project.recovery.sentence()
        if not text:
            return
        self.window.status.showMessage(text, 30000)
        box = QMessageBox(QMessageBox.Icon.Information, "Recovered after an unexpected stop", text,
                          QMessageBox.StandardButton.Ok, self.window)
        box.setModal(False)
        box.show()
        self.recovery_message = box  # kept so tests (and the user) can read it

    def ensure_project(self) -> bool:
        """Images live in a project: when none is open, ask for a folder for a new one."""
        if self.window.project is not None:
            return True
        QMessageBox.information(
            self.window, "Choose a project folder",
            "Images are annotated inside a project, a folder that holds your labels and their "
            "history (your image files stay where they are).\n\nChoose an empty folder for the new project.")
        return self.new_project()

    def open_paths(self, paths: list[str]) -> None:
        """Open what was dropped or passed on the command line: a project folder or images."""
        projects = [p for p in paths if is_project_folder(p)]
        images = [p for p in paths if not is_project_folder(p)]
        if projects:
            self.open_project(projects[0])
            if len(projects) > 1:
                self.window.status.showMessage(f"Opened {projects[0]}; one project at a time.", 8000)
        if images:
            self.add_images(images)

    # -- images ----------------------------------------------------------------------
    def add_images(self, paths: list[str | Path] | None = None) -> int:
        """Add image files or folders to the project. Returns how many were added."""
        if paths is None:
            chosen, _ = QFileDialog.getOpenFileNames(self.window, "Add images", self.settings.last_folder("images"),
                                                     image_filter())
            if not chosen:
                return 0
            paths = list(chosen)
        if not self.ensure_project():
            return 0
        project, document = self.window.project, self.window.document
        assert project is not None and document is not None
        self.settings.set_last_folder("images", paths[0])
        pages = self.choose_pages(list(paths))
        if pages is None:
            return 0
        if len(image_paths(list(paths))) > BACKGROUND_ADD_FILES:
            self._add_in_background(project, document, list(paths), pages)
            return 0
        with _WaitCursor():
            added, problems = project.add_images(document, list(paths), pages=pages)
        return self._report_added(paths, added, problems)

    def choose_pages(self, paths: list[str | Path]) -> dict[Path, list[int] | str] | None:
        """Files named (not found in folders) with several planes: ask which become images.
        Returns describe_images' `pages` ({} when there is nothing to ask), None when cancelled."""
        files: dict[Path, list] = {}
        with _WaitCursor():
            for path in map(Path, paths):
                if path.suffix.lower() not in MULTI_PAGE_SUFFIXES or (path.is_dir() and not is_zarr_folder(path)):
                    continue
                try:
                    pages = describe_pages(path)
                except (SegguiError, OSError):
                    continue  # adding it reports the problem
                if len(pages) > 1:
                    files[path] = pages
        if not files:
            return {}
        from seggui.ui.page_dialog import PageChoiceDialog

        dialog = PageChoiceDialog(files, self.window)
        self.page_dialog = dialog  # kept so tests can look at it
        if dialog.exec() != PageChoiceDialog.DialogCode.Accepted:
            return None
        return dialog.pages()

    def _add_in_background(self, project: Project, document: Document, paths: list, pages=None) -> None:
        """Hash many files on a worker, with progress and Cancel; add them when done."""
        known = {source_key(e.source) for e in document.images}

        def describe(context: JobContext):
            result = describe_images(paths, known, context.progress, lambda: context.cancelled, pages)
            context.check_cancelled()  # a cancelled run adds nothing
            return result

        job = Job(describe, name="add images")
        JobProgressDialog(job, "Adding images…", self.window)

        def done(result) -> None:
            if self.window.project is not project:  # another project was opened meanwhile
                return
            sources, problems = result
            self._report_added(paths, project.add_sources(document, sources), problems)

        job.succeeded.connect(done)
        job.failed.connect(lambda error: show_error(self.window, "Cannot add the images", error))
        job.cancelled.connect(lambda: self.window.status.showMessage("Adding images cancelled; none added", 5000))
        self.add_job = job.start()

    def _report_added(self, paths, added, problems) -> int:
        if problems:
            shown = "\n".join(problems[:10]) + (f"\n… and {len(problems) - 10} more" if len(problems) > 10 else "")
            show_error(self.window, "Some files were not added",
                       f"{len(added)} image(s) added; {len(problems)} not added:\n\n{shown}")
        if not added and not problems:
            folders = [p for p in map(Path, paths) if p.is_dir()]
            if folders and not any(is_image_file(f) for folder in folders for f in folder.iterdir()):
                show_error(self.window, "No images found", f"{folders[0]}: no image files in this folder")
        self.window.status.showMessage(f"Added {len(added)} image(s)", 5000)
        if added:
            self.window.image_list.set_current_image(added[0])
        return len(added)

    def add_folder(self) -> int:
        folder = self._choose_folder("Add a folder of images", "images")
        return 0 if folder is None else self.add_images([folder])

    # -- saving ----------------------------------------------------------------------
    def save(self) -> bool:
        autosave = self.window.autosave
        if autosave is None:
            return True
        self._last_reported_error = ""  # an explicit Save always reports its outcome
        ok = autosave.save_blocking()
        if ok:
            self.window.status.showMessage("Saved", 3000)
        return ok

    def save_as(self, folder: str | Path | None = None) -> bool:
        window = self.window
        if window.project is None or window.document is None:
            return False
        folder = Path(folder) if folder is not None else self._choose_new_project_folder("Save project as")
        if folder is None:
            return False
        # The copy becomes the open project and the original closes: its running work ends.
        if not self._stop_running_work_if_agreed():
            return False
        if window.autosave is not None:
            window.autosave.wait_idle()
        current = window.current_image()
        try:
            with _WaitCursor():
                new_project = window.project.save_as(window.document, folder)
        except (SegguiError, OSError) as error:
            show_error(window, "Cannot save the project there", error)
            return False
        window.set_project(new_project, window.document)
        if current is not None:
            window.image_list.set_current_image(current)
        self.settings.add_recent_project(new_project.folder)
        window.status.showMessage(f"Saved to {new_project.folder}", 5000)
        return True

    def set_autosave(self, enabled: bool) -> None:
        self.settings.autosave = bool(enabled)
        if self.window.autosave is not None:
            self.window.autosave.set_enabled(bool(enabled))

    def report_save_error(self, error: BaseException) -> None:
        """Tell the user a save failed: once per distinct problem, not every few seconds."""
        text = error_text(error)
        self.window.status.showMessage(f"Not saved: {text}", 15000)
        if text != self._last_reported_error:
            self._last_reported_error = text
            show_error(self.window, "The project could not be saved", error, SAVE_ERROR_ADVICE)

    # -- annotations from and to other tools ----------------------------------------------
    def import_annotations(self) -> None:
        from seggui.ui.exchange_dialogs import run_import

        if self.ensure_project():
            run_import(self.window)

    def export_annotations(self) -> None:
        from seggui.ui.exchange_dialogs import run_export

        run_export(self.window)

    # -- closing ---------------------------------------------------------------------
    def confirm_discard_or_save(self) -> bool:
        """Before closing the project: stop its running work if the user agrees (waited for
        while the project is open, so its outcome is recorded; seggui.ui.running_work), then
        save (automatically, or when asked) or discard. Returns False when the user keeps the
        work running, cancels, or the save failed and they chose to stay."""
        if not self._stop_running_work_if_agreed():
            return False
        return self._save_or_discard()

    def _stop_running_work_if_agreed(self) -> bool:
        """Ask about running work (the open project is about to close) and stop it if the
        user agrees; first, so that no batch result lands after a save."""
        from seggui.ui.running_work import ask_stop_running_work, running_work, stop_running_work

        if not ask_stop_running_work(self.window, running_work(self.window)):
            return False
        with _WaitCursor():
            stop_running_work(self.window)
        return True

    def _save_or_discard(self) -> bool:
        window = self.window
        document, autosave = window.document, window.autosave
        if document is None or autosave is None:
            return True
        if not document.dirty:
            autosave.wait_idle()
            if not document.dirty:
                return True
        if autosave.enabled and autosave.last_error is None and autosave.save_blocking():
            return True
        answer = ask_unsaved_changes(window, f"project {window.project.folder.name}" if window.project else "")
        if answer == "cancel":
            return False
        if answer == "discard":
            return True
        return self.save()

    def confirm_close(self) -> bool:
        return self.confirm_discard_or_save()
