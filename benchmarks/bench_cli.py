"""End-to-end time and peak memory of the command line on a big generated CSV.

Writes a CSV of ``--rows`` rows (default one million) and 12 columns: an
integer id, ``--features`` Gaussian-mixture features (default 10) with a
few outliers, and an integer label. Then runs
``python -m sklearn_nsigma FILE -o OUT`` with default options, pinned to one
core (``taskset`` and one BLAS thread), ``--repeats`` times, and reports the
best wall time and the peak resident memory of the child (``ru_maxrss``),
next to the targets: at most ``--max-seconds`` (20) and at most twice the
feature matrix (rows x features x 8 bytes) plus 200 MB. ``--start-up``
also times ``--version`` and ``--help`` (target 0.5 s).

Run::

    python benchmarks/bench_cli.py
    python benchmarks/bench_cli.py --rows 10000000   # about 1 GB of CSV

It exits with status 1 if a target is missed. The machine's load changes
the times: run it on an idle machine, or read the numbers as upper bounds.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

MB = 1 << 20


def write_csv(path: str, n_rows: int, n_features: int, seed: int = 0) -> None:
    """A mixture of three Gaussians with 0.1 % uniform outliers, in chunks."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (3, n_features))
    scales = rng.uniform(0.5, 2.0, (3, n_features))
    with open(path, "w") as handle:
        names = [f"f{j}" for j in range(n_features)]
        handle.write(",".join(["id", *names, "label"]) + "\n")
        fmt = ",".join(["%d", *["%.6g"] * n_features, "%d"])
        for start in range(0, n_rows, 200_000):
            n = min(200_000, n_rows - start)
            label = rng.integers(0, 3, n)
            X = centres[label] + scales[label] * rng.normal(size=(n, n_features))
            outliers = rng.random(n) < 0.001
            X[outliers] = rng.uniform(-40, 40, (outliers.sum(), n_features))
            table = np.column_stack([np.arange(start, start + n), X, label])
            np.savetxt(handle, table, fmt=fmt)


def run_child(argv: list, cwd: str) -> tuple:
    """Wall time, peak RSS (bytes) and result of one child process."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "sklearn_nsigma", *argv]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime + usage.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"  {' '.join(argv[:1])}: {wall:.2f} s wall, {cpu:.2f} s CPU")
    return wall, usage.ru_maxrss * 1024, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=20.0)
    parser.add_argument("--start-up", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ["PYTHONPATH"] = os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])
    folder = args.keep or tempfile.mkdtemp(prefix="bench_cli.")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "big.csv")
    failed = False
    try:
        if args.start_up:
            for option in ("--version", "--help"):
                times = [run_child([option], folder)[0] for _ in range(5)]
                ok = min(times) <= 0.5
                failed |= not ok
                print(
                    f"{option}: best {min(times):.3f} s of 5 (target 0.5 s)"
                    f"{'' if ok else '  MISSED'}"
                )
        if not os.path.exists(path):
            start = time.perf_counter()
            write_csv(path, args.rows, args.features)
            print(
                f"wrote {path}: {os.path.getsize(path) / MB:.0f} MB in "
                f"{time.perf_counter() - start:.0f} s"
            )
        walls = []
        for _ in range(args.repeats):
            wall, peak, result = run_child([path, "-o", "out.csv"], folder)
            if result.returncode != 0:
                print(result.stderr)
                return 1
            walls.append(wall)
        matrix = args.rows * args.features * 8
        budget = 2 * matrix + 200 * MB
        print(result.stdout)
        print(
            f"end to end: best {min(walls):.1f} s of {args.repeats} "
            f"(all: {', '.join(f'{w:.1f}' for w in walls)}; target "
            f"{args.max_seconds:g} s)"
        )
        print(
            f"peak memory: {peak / MB:.0f} MB (target: 2 x {matrix / MB:.0f} MB "
            f"+ 200 MB = {budget / MB:.0f} MB)"
        )
        failed |= min(walls) > args.max_seconds or peak > budget
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
