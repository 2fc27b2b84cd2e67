"""Load generator: a thin wrapper over ``rokt-async bench`` (``rokt_async.bench``).

``python -m benchmarks.loadgen --duration 20`` is ``python -m rokt_async.bench
--duration 20``; every option is the bench's (see ``--help``).
"""

from __future__ import annotations

import sys

from rokt_async.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
