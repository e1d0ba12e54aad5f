"""Every CPU benchmark in one run (offline, tiny model, < 10 minutes on 2 cores): python -m bench.all"""

from __future__ import annotations

import sys

from bench import cold_start, engine_overhead, memory, preprocessors, ray_serving, xy_matrix


def main() -> None:
    for module, argv in ((engine_overhead, ["--rounds", "7"]), (xy_matrix, ["--rounds", "5"]), (ray_serving, []), (memory, []), (cold_start, ["--runs", "3"]), (preprocessors, [])):
        print(f"\n## {module.__name__}", flush=True)
        sys.argv = [module.__name__, *argv]
        module.main()


if __name__ == "__main__":
    main()
