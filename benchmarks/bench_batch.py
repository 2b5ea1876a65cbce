"""Campaign throughput: parallel efficiency of processes:2 and the overhead of dask over it.

Runs the real pipeline (linear fit, no sampling, report without extra figures) on N tiny
synthetic streaks (the ones of the batch tests) and prints

* parallel efficiency E = T(processes:1) / (2 * T(processes:2))   (issue 8 target >= 0.8);
* dask overhead = T(dask LocalCluster, 2 workers) / T(processes:2) - 1   (target <= 20 %).

Each executor is warmed up first (forkserver imports, dask worker imports) so the timings
compare steady campaigns, as on a cluster that is already up; each timed campaign runs with
``force=True`` into a fresh folder. The dask cluster is bound to 127.0.0.1 only.

    python benchmarks/bench_batch.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from fitdiff.batch import run_campaign
from fitdiff.testing import write_streak

BASE = """
[extract]
method = "gauss"
[model]
kind = "linear"
[report]
figures = false
"""


def make_campaign(root: Path, n: int) -> Path:
    (root / "base.toml").write_text(BASE, encoding="utf-8")
    (root / "data").mkdir()
    for i in range(n):
        write_streak(root / "data" / f"m{i:03d}.tif", 2.0 + 0.1 * i, seed=i)
    path = root / "campaign.toml"
    path.write_text(
        "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\n", encoding="utf-8"
    )
    return path


def timed(campaign: Path, out: Path, executor: str) -> float:
    start = time.perf_counter()
    result = run_campaign(campaign, out, executor, force=True)
    seconds = time.perf_counter() - start
    if result.count("ok") != len(result.summary):
        raise SystemExit(f"{executor}: some measurements failed:\n{result.summary}")
    return seconds


def main(n: int = 8) -> None:
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        campaign = make_campaign(root, n)
        (root / "warm").mkdir()
        warm = make_campaign(root / "warm", 4)  # two tasks per worker: every worker warm
        timed(warm, root / "w1", "processes:2")
        t1 = timed(campaign, root / "p1", "processes:1")
        t2 = timed(campaign, root / "p2", "processes:2")
        with LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:
            address = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
            timed(warm, root / "w2", address)
            td = timed(campaign, root / "d2", address)
    efficiency = t1 / (2 * t2)
    overhead = td / t2 - 1
    print(f"campaign of {n} tiny streaks (real pipeline, no sampling)")
    print(f"  processes:1   {t1:7.2f} s  ({t1 / n:.2f} s per measurement)")
    print(f"  processes:2   {t2:7.2f} s")
    print(f"  dask (2 workers, LocalCluster)  {td:7.2f} s")
    print(f"parallel efficiency at k=2: {efficiency:.2f}  (target >= 0.8)")
    print(f"dask overhead vs processes:2: {100 * overhead:+.1f} %  (target <= +20 %)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
