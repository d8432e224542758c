"""Peak memory of a child process itself, not of the test process that started it.

`resource.getrusage(RUSAGE_CHILDREN)` reports the largest child ever waited for (a training
run earlier in the suite), and on Linux `ru_maxrss` survives fork and exec, so a child
started from a big pytest process inherits its size. The kernel's per-image high-water
mark, `VmHWM` in /proc/self/status, starts afresh at exec: the wrapper prints it at exit.
"""

from __future__ import annotations

import sys

WRAPPER = (
    "import atexit, sys\n"
    "def report():\n"
    "    try:\n"
    "        line = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
    "        sys.stderr.write('\\nCHILD_PEAK_KIB ' + line.split()[1] + '\\n')\n"
    "    except OSError:\n"
    "        pass\n"
    "atexit.register(report)\n"
    "from seggui.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def seggui_command(*args: str) -> list[str]:
    """`python -m seggui ARGS` that also reports its own peak resident memory on stderr."""
    return [sys.executable, "-c", WRAPPER, *args]


def peak_kib(stderr: str) -> int | None:
    """The child's peak resident memory in KiB, or None where /proc is not available."""
    for line in reversed(stderr.splitlines()):
        if line.startswith("CHILD_PEAK_KIB "):
            return int(line.split()[1])
    return None

