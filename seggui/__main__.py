"""`python -m seggui` is the same command as `seggui` (and `torchrun -m seggui`)."""

from seggui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
