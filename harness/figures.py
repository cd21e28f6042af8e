"""The performance-profile figure (PNG and SVG), drawn with matplotlib's non-interactive backend."""

from __future__ import annotations

from pathlib import Path

from harness.report import Pool, ScoreRow, profile_points
from harness.scoring import R_MAX


def render_profiles(pool: Pool, rows: list[ScoreRow], out: Path, r_max: float = R_MAX) -> list[Path]:
    """Write ``profiles-<pool>.png`` and ``.svg``: rho(tau) per submission as a step function, r_max marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for row in rows:
        points = profile_points(row.ratios, r_max)
        taus, rhos = [p[0] for p in points], [p[1] for p in points]
        ax.step(taus, rhos, where="post", label=f"{row.submission} (score {row.score:.3f})")
    ax.axvline(r_max, color="grey", linestyle=":", label=f"r_max = {r_max:g}")
    ax.set(xlim=(1, r_max * 1.02), ylim=(-0.02, 1.02), xlabel="performance ratio tau",
           ylabel="share of workloads with r <= tau", title=f"Performance profiles: {pool.key}")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"profiles-{pool.key.replace('/', '_')}"
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]  # not with_suffix: the release name has dots
    for path in paths:
        fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return paths
