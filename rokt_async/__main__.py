"""``python -m rokt_async``: the ``rokt-async`` command (bench, emulator)."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
