"""How long the training lite suite takes: one reference trial on each of its workloads, as a user would run it.

"Reference trial": the baseline that set the workload's target, at the search-space point it set it with, both read
from the target's provenance in ``workloads/targets.json`` (``best_baseline``, ``points``). Workloads that share a
baseline and point run in one ``podium run ... --trials 1 --scoring-seeds 0`` command; a point other than the first
runs from a temporary copy of the baseline whose search space holds that point alone. Every command writes into one
temporary database, from which the trials' walls, submission and evaluation seconds are read.

Printed: each trial (wall, submission seconds, evaluations and their seconds, reached or not), the wall of the
commands together (start-up, reports and all: what a user waits for), the trials' walls, and the same for the
release's drawn suite (the bases and the held-out variants the public draw picks). The goal (issue: transformer
workloads) is the whole suite under 10 minutes on ``cpu-2core``. Run it on an idle machine: it is a wall-clock
measurement, and each run reports its own numbers (run it twice to see the spread).

Run: ``python benchmarks/lite_suite.py`` (about 8-9 minutes on the 2-core VM; not part of ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.demo import BASELINES_DIR  # noqa: E402
from harness.registry import UnknownNameError  # noqa: E402
from harness.runner.run import BENCHMARK_RELEASE  # noqa: E402
from workloads import DEFAULT_HARDWARE_CLASS, SUITES, load_targets, scored_workloads, variants_of  # noqa: E402

GOAL_S = 600.0


def reference_groups(suite: str, hardware_class: str) -> dict[tuple[str, int], list[str]]:
    """``(baseline, 1-based point) -> workloads`` for every base workload of ``suite`` and its variants."""
    targets = load_targets()
    groups: dict[tuple[str, int], list[str]] = defaultdict(list)
    for base in SUITES.get(suite):
        for name in (base, *(v.name for v in variants_of(base))):
            stored = targets.get(name, {}).get(hardware_class)
            if stored is None or stored.provenance is None or not stored.provenance.get("best_baseline"):
                raise SystemExit(f"{name} has no target on {hardware_class} set by a baseline: nothing to time")
            baseline = stored.provenance["best_baseline"]
            groups[(baseline, int(stored.provenance.get("points", {}).get(baseline, 1)))].append(name)
    return groups


def submission_at(baseline: str, point: int, scratch: Path) -> Path:
    """The baseline's folder, or a copy whose search space is its ``point``-th point alone."""
    folder = BASELINES_DIR / baseline
    if point == 1:
        return folder
    copy = scratch / f"{baseline}_point{point}"
    shutil.copytree(folder, copy)
    points = json.loads((folder / "search_space.json").read_text())
    (copy / "search_space.json").write_text(json.dumps([points[point - 1]]))
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="lite")
    parser.add_argument("--hardware-class", default=DEFAULT_HARDWARE_CLASS)
    args = parser.parse_args()
    try:
        groups = reference_groups(args.suite, args.hardware_class)
    except UnknownNameError as exc:
        raise SystemExit(str(exc)) from None
    drawn = set(scored_workloads(args.suite, BENCHMARK_RELEASE))
    with tempfile.TemporaryDirectory(prefix="podium-lite-suite-") as tmp:
        db = Path(tmp) / "results.db"
        started = time.monotonic()
        for (baseline, point), names in groups.items():
            print(f"{baseline} (point {point}): {', '.join(names)}", flush=True)
            command = [sys.executable, "-m", "harness.cli", "run", str(submission_at(baseline, point, Path(tmp))),
                       *(a for n in names for a in ("--workload", n)), "--trials", "1", "--scoring-seeds", "0",
                       "--hardware-class", args.hardware_class, "--db", str(db)]
            subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        total = time.monotonic() - started
        with sqlite3.connect(db) as con:
            trials = con.execute("SELECT workload, status, wall_time_s, submission_time_s, trial_id "
                                 "FROM trials").fetchall()
            evals = dict(con.execute("SELECT trial_id, COUNT(*) || ' / ' || printf('%.1f', SUM(eval_time_s)) "
                                     "FROM evals GROUP BY trial_id").fetchall())
    print(f"\n{'workload':32} {'status':8} {'wall s':>7} {'sub s':>7}  evals / s")
    for workload, status, wall, sub, trial_id in trials:
        print(f"{workload:32} {status:8} {wall:7.1f} {sub:7.1f}  {evals.get(trial_id, '-')}")
    walls = {w: wall for w, _, wall, _, _ in trials}
    in_drawn = sum(wall for w, wall in walls.items() if w in drawn)
    print(f"\nall {len(walls)} workloads: {total:.0f} s of wall for the commands ({total / 60:.1f} min; goal "
          f"{GOAL_S / 60:.0f} min: {'met' if total < GOAL_S else 'missed'}), {sum(walls.values()):.0f} s of it in "
          f"trials; {sum(s == 'reached' for _, s, *_ in trials)} reached")
    print(f"the release's drawn suite ({len(drawn)} workloads): {in_drawn:.0f} s of trial wall")


if __name__ == "__main__":
    main()
