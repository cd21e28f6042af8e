"""The Ray executor's scheduling overhead: the driver's cost per trial, measured with no-op trials on a local cluster.

A no-op trial goes through everything the Ray executor does for a real one except the trial itself:
:meth:`harness.executors.ray.RayRunner.run_trial` submits a streaming task that asks for the hardware class's
resource and cores and receives the submission archive and the request; the task, on a node, reports its node's
facts and at once an outcome; the driver reads the stream and returns the outcome. So its wall time is Ray's
scheduling, the transfer of the request and archive, and the driver's and node's bookkeeping.

Reported, for ``--trials`` no-op trials (default 1,000):

* **sequential**: one trial at a time, wall seconds per trial (median, and the 10th-90th percentile);
* **concurrent**: ``--concurrency`` trials at a time, as ``podium run`` keeps the cluster's capacity busy: wall
  seconds for all divided by their number;
* **driver memory**: the driver's resident memory before and after, and its growth per 1,000 trials.

Goal (issue: scale out on Ray): under 50 ms of scheduling per trial. The cluster is a local one started by
``ray.init`` in this process (one node, no dashboard), offering the class ``bench`` ``--concurrency`` times.

Run: ``make bench`` (or ``python benchmarks/ray_overhead.py --trials 1000``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLASS = "bench"


def noop_on_node(request_json: str, archive: bytes, submission_hash: str, harness_commit: str,
                 workdir: str | None) -> Any:
    """The task a no-op trial runs: the node's facts, then an outcome, as :func:`harness.executors.ray.run_on_node`
    streams them."""
    from harness.executors.ray import node_facts
    from harness.runner.messages import TrialRequest
    from harness.runner.supervisor import TrialOutcome

    yield "node", node_facts()
    request = TrialRequest.model_validate_json(request_json)
    yield "outcome", TrialOutcome(status="missed", reason="no-op", result=None, wall_s=0.0, peak_rss_bytes=0,
                                  estimated_submission_s=0.0, log_path=Path(workdir or "/tmp") / request.trial_id)


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    import ray

    from harness.executors.ray import RayRunner, resource_for
    from harness.runner.messages import TrialRequest
    from workloads import get_spec

    ray.init(num_cpus=args.concurrency, resources={resource_for(CLASS): args.concurrency}, include_dashboard=False,
             log_to_driver=False, logging_level="ERROR", configure_logging=False)
    folder = ROOT / "submissions" / "training" / "adamw"
    runner = RayRunner(None, folder)
    runner._task = ray.remote(noop_on_node)  # the no-op body; everything around it is the executor's own
    spec = get_spec("digits_mlp")
    workdir = Path(tempfile.mkdtemp(prefix="podium-ray-bench-"))

    def trial(i: int) -> float:
        request = TrialRequest(trial_id=f"noop-{i}", submission_dir=str(folder), workload=spec,
                               hardware_class=CLASS, budget_s=1.0, hyperparameters={}, seed=i, threads=1)
        started = time.perf_counter()
        outcome = runner.run_trial(request, workdir)
        assert outcome.status == "missed" and outcome.placement.get("node_id"), outcome
        return time.perf_counter() - started

    for i in range(20):  # warm-up: Ray starts its worker processes and imports the harness in them
        trial(-1 - i)
    before = rss_mb()
    sequential = [trial(i) for i in range(args.trials)]
    after_sequential = rss_mb()
    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(trial, range(args.trials, 2 * args.trials)))
    concurrent = (time.perf_counter() - started) / args.trials
    after = rss_mb()
    deciles = statistics.quantiles(sequential, n=10)
    print(f"Ray executor, {args.trials} no-op trials per measure, local cluster of {args.concurrency} slot(s) on "
          f"{os.cpu_count()} CPUs, Ray {ray.__version__} (archive of {len(runner.archive)} bytes)")
    print(f"  sequential: {statistics.median(sequential) * 1e3:.1f} ms per trial (median; 10-90%: "
          f"{deciles[0] * 1e3:.1f}-{deciles[-1] * 1e3:.1f} ms); goal < 50 ms: "
          f"{'met' if statistics.median(sequential) < 0.05 else 'NOT met'}")
    print(f"  concurrent ({args.concurrency} at a time): {concurrent * 1e3:.1f} ms of wall per trial")
    print(f"  driver memory: {before:.0f} MB before, {after_sequential:.0f} MB after {args.trials} trials, "
          f"{after:.0f} MB after {2 * args.trials} ({(after - before) / (2 * args.trials) * 1000:.1f} MB per 1,000 "
          f"trials); load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    ray.shutdown()


if __name__ == "__main__":
    main()
