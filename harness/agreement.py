"""Does the lite suite predict the full one? Kendall's tau between two suites' rankings of the same submissions.

The lite suite exists so that a ranking can be had on a 2-core machine in minutes; it is worth that only if it ranks
submissions as the full suite (AlgoPerf-scale workloads on GPU classes) does. ``podium agreement LITE FULL`` takes
the score records of each (``podium score --format json``, or ``scores.json``/``scores.csv`` from ``podium score
--out``), matches pools by track and ruleset (the hardware class and release differ between the suites by design),
keeps the submissions scored in both, and reports per pool Kendall's tau-b between their benchmark scores
(``scipy.stats.kendalltau``; tau-b counts ties), its p-value, and the submissions only one suite scored. The lite
suite's design goal is tau >= :data:`GOAL_TAU`. Fewer than :data:`MIN_COMMON` common submissions give no tau, only why.

Procedure: run the same submissions on both suites (``podium run --suite lite`` on ``cpu-2core``, ``podium run
--suite full --hardware-class gpu-h100`` on the GPU class), score each database, then compare the two score files.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

GOAL_TAU = 0.9
MIN_COMMON = 3


class AgreementError(ValueError):
    """A score file cannot be read or holds no score records; the message names the file."""


@dataclass
class PoolAgreement:
    """One pool's agreement between the suites."""

    track: str
    ruleset: str
    common: list[str]
    tau: float | None
    p_value: float | None
    note: str = ""
    only_lite: list[str] = field(default_factory=list)
    only_full: list[str] = field(default_factory=list)
    lite_order: list[str] = field(default_factory=list)  # common submissions, best first, by each suite
    full_order: list[str] = field(default_factory=list)

    @property
    def meets_goal(self) -> bool | None:
        return None if self.tau is None else self.tau >= GOAL_TAU


def read_scores(path: Path) -> list[dict[str, Any]]:
    """Score records from a JSON list (``podium score --format json``, ``scores.json``) or a CSV (``scores.csv``)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise AgreementError(f"cannot read {path}: {exc.strerror or exc}") from None
    if Path(path).suffix.lower() == ".csv":
        records: list[dict[str, Any]] = list(csv.DictReader(text.splitlines()))
    else:
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AgreementError(f"{path} is not JSON ({exc.msg} at line {exc.lineno}); give the output of "
                                 "`podium score --format json` or the scores.json/scores.csv of `podium score --out`")
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise AgreementError(f"{path} holds no score records (expected a list of records as `podium score --format "
                             "json` writes them)")
    missing = [k for k in ("track", "ruleset", "submission", "score") if k not in records[0]]
    if missing:
        raise AgreementError(f"{path}: the records have no {', '.join(missing)}; is it a score file?")
    return records


def _score(record: dict[str, Any]) -> float | None:
    value = record.get("score")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _by_pool(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    pools: dict[tuple[str, str], dict[str, float]] = {}
    for r in records:
        score = _score(r)
        if score is not None:
            pools.setdefault((str(r["track"]), str(r["ruleset"])), {})[str(r["submission"])] = score
    return pools


def _order(scores: dict[str, float], names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: (-scores[n], n))


def compare(lite: list[dict[str, Any]], full: list[dict[str, Any]]) -> list[PoolAgreement]:
    """Per pool (track, ruleset) present in either suite: Kendall's tau-b of the common submissions' scores.

    >>> lite = [{"track": "training", "ruleset": "external", "submission": s, "score": v}
    ...         for s, v in [("a", 0.9), ("b", 0.7), ("c", 0.5), ("d", 0.3)]]
    >>> full = [dict(r, score=1 - r["score"]) for r in lite]
    >>> [(p.tau, p.lite_order, p.full_order) for p in compare(lite, full)]
    [(-1.0, ['a', 'b', 'c', 'd'], ['d', 'c', 'b', 'a'])]
    """
    from scipy.stats import kendalltau

    lite_pools, full_pools = _by_pool(lite), _by_pool(full)
    out = []
    for key in sorted(set(lite_pools) | set(full_pools)):
        a, b = lite_pools.get(key, {}), full_pools.get(key, {})
        common = sorted(set(a) & set(b))
        row = PoolAgreement(track=key[0], ruleset=key[1], common=common, tau=None, p_value=None,
                            only_lite=sorted(set(a) - set(b)), only_full=sorted(set(b) - set(a)),
                            lite_order=_order(a, common), full_order=_order(b, common))
        if len(common) < MIN_COMMON:
            row.note = (f"{len(common)} submission(s) scored in both suites; a rank correlation needs at least "
                        f"{MIN_COMMON}")
        elif len({a[s] for s in common}) == 1 or len({b[s] for s in common}) == 1:
            row.note = "one suite gives every common submission the same score: no ranking to correlate"
        else:
            result = kendalltau([a[s] for s in common], [b[s] for s in common])
            row.tau, row.p_value = float(result.statistic), float(result.pvalue)
        out.append(row)
    return out


def report(rows: list[PoolAgreement]) -> list[dict[str, Any]]:
    """JSON-ready rows, with whether each pool meets the goal."""
    return [{**asdict(r), "goal_tau": GOAL_TAU, "meets_goal": r.meets_goal} for r in rows]
