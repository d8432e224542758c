"""Background jobs for the GUI: run a function off the GUI thread, get progress, a result
or an error back on the GUI thread, and a cancel flag the function checks.

    job = Job(function, *args, name="Export")      # function(context, *args) -> result
    job.progress.connect(...); job.succeeded.connect(...); job.failed.connect(...)
    job.start()
"""

from seggui.jobs.worker import Job, JobCancelled, JobContext, wait_for_all

__all__ = ["Job", "JobCancelled", "JobContext", "wait_for_all"]
