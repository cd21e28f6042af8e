"""Scoring: from per-workload times to ratios, profiles, benchmark scores, speedups and confidence intervals.

Only pure functions live here (no I/O, no plotting, no globals). A miss is ``math.inf`` everywhere, on purpose.

- :mod:`harness.scoring.profiles`: performance ratios, profiles, the benchmark score, AlgoPerf's held-out variant rule,
  the choice of scored variants, and the pool-independent speedup against a reference.
- :mod:`harness.scoring.uncertainty`: two-stage bootstrap (studies, then scoring seeds) intervals and rank bounds,
  and the minimum number of runs below which no interval is shown.
- :mod:`harness.scoring.reasons`: why a workload time or ratio is infinite, in one wording used everywhere.
"""

from harness.scoring.profiles import (
    R_MAX, VARIANT_RULE, apply_variant_rule, benchmark_score, choose_scoring_variants, penalize_variant_failures,
    performance_profile, performance_ratios, speedup_vs_reference, variant_best_times,
)
from harness.scoring.uncertainty import (
    MIN_INTERVAL_N, SINGLE_SEED, BootstrapScores, Interval, bootstrap_scores, bootstrap_workload_times,
    interval_note, percentile_interval, rank_upper_bounds, run_count, workload_time_from_studies,
)

__all__ = [
    "MIN_INTERVAL_N", "R_MAX", "SINGLE_SEED", "VARIANT_RULE", "BootstrapScores", "Interval", "apply_variant_rule",
    "benchmark_score", "bootstrap_scores", "bootstrap_workload_times", "choose_scoring_variants", "interval_note",
    "penalize_variant_failures", "percentile_interval", "performance_profile", "performance_ratios",
    "rank_upper_bounds", "run_count", "speedup_vs_reference", "variant_best_times", "workload_time_from_studies",
]
