"""How long ``import labkit`` takes, against importing every labkit module at once.

Baseline: one fresh interpreter that imports all of labkit's subpackages, which is
what ``import labkit`` did when the package face imported every module eagerly
(psutil, the socket table, the servers, the exercise machinery...). Measured: a
fresh interpreter that runs ``import labkit`` and uses one name (``labkit.serve``),
which is what a lesson's first cell does. Both run REPS times in alternation, each
in a new process (so nothing is cached in memory but the files); medians are printed,
and the last line is

    import ratio lazy/eager: R

Goal: R <= 0.5. Run: python bench/import_time.py [--reps 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

EAGER = ("import labkit, labkit.wire, labkit.serving, labkit.seeing, labkit.programs, "
         "labkit.chat, labkit.classroom, labkit.course, labkit.exercises")
LAZY = "import labkit; labkit.serve"


def once(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    reps = parser.parse_args().reps
    bare = [once("pass") for _ in range(3)]  # the interpreter's own start, for reference
    times = {"eager": [], "lazy": []}
    for _ in range(reps):
        times["eager"].append(once(EAGER))
        times["lazy"].append(once(LAZY))
    start = statistics.median(bare)
    print(f"python alone                 {start * 1000:8.1f} ms (median of 3)")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:5} import, whole process   {median * 1000:8.1f} ms "
              f"(import itself about {(median - start) * 1000:.1f} ms; median of {reps})")
    lazy = statistics.median(times["lazy"]) - start
    eager = statistics.median(times["eager"]) - start
    print(f"import ratio lazy/eager: {lazy / eager:.2f}")


if __name__ == "__main__":
    main()
