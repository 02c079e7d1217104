"""Child process that runs Meta's vpdq on one video and prints its frame hashes as JSON.

Why a separate process: vpdq (C++ around FFmpeg) aborts the whole process on some damaged files (a
truncated MP4 raises SIGABRT), and a decoder can loop or allocate without bound on hostile input. In a
child, a crash becomes an error code, and the parent enforces a time limit and a memory ceiling.

Usage: ``python -I vpdq_worker.py PATH SECONDS_PER_HASH`` -> stdout: JSON list of
``[frame_number, timestamp_s, quality, pdq_hex]``; exit status 3 when vpdq reports a failure.
"""

from __future__ import annotations

import json
import sys

EXIT_DECODE_FAILED = 3


def main(argv: list[str]) -> int:
    path, seconds_per_hash = argv[0], float(argv[1])
    import vpdq

    try:
        features = vpdq.computeHash(path, seconds_per_hash=seconds_per_hash, thread_count=1)
    except Exception as exc:  # vpdq raises a bare Exception for every decoding failure
        print(str(exc), file=sys.stderr)
        return EXIT_DECODE_FAILED
    rows = [[int(f.frame_number), float(f.timestamp), int(f.quality), str(f.hex)] for f in features]
    json.dump(rows, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
