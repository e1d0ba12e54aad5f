"""Every preprocessor at 512x512 on CPU (random weights of the real networks cost the real FLOPs), plus the
cache-hit time (target <= 20 ms).

Weights come from a fake `lllyasviel/Annotators` hub cache built like the tests' (random, real architectures),
in the private cache `bench/__init__.py` sets up.
Run: python -m bench.preprocessors [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench.common import summary, table, timed, write  # importing bench set up a private offline hub cache


def photo(size: int):
    from PIL import Image
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((size, size))


def run(rounds: int, size: int = 512) -> dict:
    from preprocessors import Preprocessors, names
    from tests.annotator_cache import build_annotator_cache

    hub = Path(os.environ["HF_HUB_CACHE"])
    build_seconds = timed(lambda: build_annotator_cache(hub))
    runner = Preprocessors(device="cpu", offline=True, cache_entries=0)
    image = photo(size)
    rows = {}
    for name in names():
        first = timed(lambda name=name: runner.run(name, image, processor_res=size))  # includes loading weights
        times = [timed(lambda name=name: runner.run(name, image, processor_res=size)) for _ in range(rounds)]
        rows[name] = {"first_s": first, **summary(times)}
    cached = Preprocessors(device="cpu", offline=True)
    cached.run("canny", image, processor_res=size)
    hits = [timed(lambda: cached.run("canny", image, processor_res=size)) for _ in range(20)]
    return {"size": size, "rounds": rounds, "fake_cache_build_s": build_seconds, "preprocessors": rows, "cache_hit_s": summary(hits)}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(result["preprocessors"].items(), key=lambda item: item[1]["median"])
    figure, axis = plt.subplots(figsize=(7, 0.28 * len(items) + 1))
    axis.barh([name for name, _ in items], [value["median"] for _, value in items])
    hit = result["cache_hit_s"]["median"]
    axis.axvline(hit, color="tab:green", linestyle="--", label=f"cache hit (any preprocessor): {hit * 1000:.2g} ms")
    axis.axvline(0.02, color="tab:red", linestyle=":", label="cache-hit target: 20 ms")
    axis.legend(loc="lower right", fontsize="small")
    axis.set_xscale("log")
    axis.set_xlabel(f"seconds per {result['size']}² map on CPU (median, log scale)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    result = run(parser.parse_args().rounds)
    rows = [[name, v["first_s"], v["median"], v["min"], v["max"]] for name, v in result["preprocessors"].items()]
    print(table(rows, ["preprocessor", "first call s", "median s", "min s", "max s"]))
    hit = result["cache_hit_s"]
    print(table([["cache hit (canny)", hit["min"] * 1000, hit["median"] * 1000, hit["max"] * 1000]], ["", "min ms", "median ms", "max ms"]))
    write("preprocessors", result)
    plot(result, Path(__file__).resolve().parents[1] / "docs" / "bench" / "preprocessors.png")
    return result


if __name__ == "__main__":
    main()
