"""Thin launcher: `python main.py` behaves like the `seggui` command."""

from seggui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
