"""``python -m rokt_async.bench``: the load benchmark (see ``rokt_async.bench``)."""

from __future__ import annotations

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m rokt_async.bench"))
