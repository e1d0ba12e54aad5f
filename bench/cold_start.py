"""Cold start: `python app.py --model tiny --offline` to the first HTTP 200 (target <= 8 s on 2 cores).

Run: python -m bench.cold_start [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import summary, table, write
from tests.server import start_app


def run(runs: int) -> dict:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            app = start_app(Path(scratch))
            times.append(app.started_in_s)
            app.stop()
    return {"seconds_to_http_200": summary(times), "runs": times}


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    result = run(parser.parse_args().runs)
    s = result["seconds_to_http_200"]
    print(table([["python app.py --model tiny → HTTP 200", s["min"], s["median"], s["max"]]], ["what", "min s", "median s", "max s"]))
    write("cold_start", result)
    return result


if __name__ == "__main__":
    main()
