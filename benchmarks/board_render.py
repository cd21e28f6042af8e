"""First-render time of the leaderboard page on a large synthetic bundle (goal: under 2 seconds).

The bundle: 200 submissions x 12 workloads (10 base + 2 held-out variants) x 15 trials per workload, ten
evaluations per trial (~40,000 trials, ~400,000 evaluation rows), written by :mod:`leaderboard.synthetic` in the
published Parquet layout, with scores from the real scoring code.

Every measurement runs in a fresh Python process, so caches and imports start empty, as for a newly started server:

* ``apptest``: Streamlit's ``AppTest`` renders the leaderboard page. ``AppTest`` itself costs time on its first
  run in a process (it scans installed packages for components; a server does this once at start-up), so that
  first run is done on an empty page and reported as the harness overhead; then the board's first render (empty
  caches: reading Parquet, importing plotly, every view), a new session (warm caches), and a rerun.
* ``cold``: the same first render without the warm-up run, i.e. including ``AppTest``'s own start.
* ``pure``: the views alone, no Streamlit: read the tables, then compute the page's table, hidden entries and
  ratio table.

Run: ``python benchmarks/board_render.py`` (``--repeats N``, ``--bundle DIR`` to reuse a bundle, ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "leaderboard" / "app.py"
GOAL_S = 2.0


def _apptest(bundle: Path, warm_up: bool) -> dict[str, float]:
    os.environ["PODIUM_BOARD_BUNDLES"] = str(bundle)
    started = time.perf_counter()
    from streamlit.testing.v1 import AppTest  # a server has Streamlit loaded before any page renders

    result = {"import_streamlit_s": time.perf_counter() - started}
    if warm_up:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as empty:
            empty.write("import streamlit as st\nst.write('warm-up')\n")
        started = time.perf_counter()
        AppTest.from_file(empty.name, default_timeout=120).run()
        result["apptest_overhead_s"] = time.perf_counter() - started
    started = time.perf_counter()
    first = AppTest.from_file(str(APP), default_timeout=120).run()
    result["first_render_s"] = time.perf_counter() - started
    assert not first.exception, [e.value for e in first.exception]
    assert len(first.dataframe[0].value) == 200, "the leaderboard did not show the 200 submissions"
    if warm_up:
        started = time.perf_counter()
        AppTest.from_file(str(APP), default_timeout=120).run()
        result["new_session_s"] = time.perf_counter() - started
        started = time.perf_counter()
        first.run()
        result["rerun_s"] = time.perf_counter() - started
    return result


def _pure(bundle: Path) -> dict[str, float]:
    started = time.perf_counter()
    from leaderboard.bundle import open_bundle, read_table
    from leaderboard.views import table

    result = {"import_views_s": time.perf_counter() - started}
    started = time.perf_counter()
    ref = open_bundle(bundle)
    scores, runs, submissions = (read_table(ref, name) for name in ("scores", "runs", "submissions"))
    result["read_tables_s"] = time.perf_counter() - started
    started = time.perf_counter()
    pool = ref.manifest()["pools"][0]
    records = table.pool_records(scores, pool)
    view, hidden = table.view_records(records, table.TableConfig())
    table.display_table(view, link=lambda sub: f"submission?sub={sub}")
    table.flagged_runs(records, runs, submissions, pool)
    result["table_views_s"] = time.perf_counter() - started
    started = time.perf_counter()
    table.ratio_table(view, records, 4.0).to_html()  # the coloured ratio table with its tooltips, as HTML
    result["heatmap_s"] = time.perf_counter() - started
    assert len(view) == 200
    return result


def _child(mode: str, bundle: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", mode, "--bundle", str(bundle)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per measurement (median reported)")
    parser.add_argument("--bundle", type=Path, help="reuse this synthetic bundle instead of writing one")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--child", choices=["apptest", "cold", "pure"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        measure = {"apptest": lambda b: _apptest(b, True), "cold": lambda b: _apptest(b, False), "pure": _pure}
        print(json.dumps(measure[args.child](args.bundle)))
        return
    from leaderboard.synthetic import SyntheticConfig, write_synthetic_bundle

    with tempfile.TemporaryDirectory() as tmp:
        written_s = None
        bundle = args.bundle
        if bundle is None:
            started = time.perf_counter()
            bundle = write_synthetic_bundle(Path(tmp), SyntheticConfig())
            written_s = time.perf_counter() - started
        rows = {k: v["rows"] for k, v in json.loads((bundle / "manifest.json").read_text())["tables"].items()}
        results = {mode: _median([_child(mode, bundle) for _ in range(args.repeats)])
                   for mode in ("apptest", "cold", "pure")}
    results["bundle"] = {"rows": rows, "written_s": written_s, "repeats": args.repeats}
    if args.json:
        print(json.dumps(results, indent=1))
        return
    report(results)


def report(results: dict) -> None:
    rows, a, c, p = results["bundle"]["rows"], results["apptest"], results["cold"], results["pure"]
    written = results["bundle"]["written_s"]
    print(f"synthetic bundle: 200 submissions x 12 workloads x 15 trials: {rows['trials']:,} trials, "
          f"{rows['evals']:,} evaluations" + (f" (written in {written:.1f} s)" if written else ""))
    print(f"median of {results['bundle']['repeats']} fresh processes each\n")
    print("leaderboard page, measured with streamlit.testing.v1.AppTest")
    print(f"  first render, empty caches (after an empty-page AppTest run) {a['first_render_s']:6.2f} s")
    print(f"  first render, nothing warmed (includes AppTest's own start)  {c['first_render_s']:6.2f} s")
    print(f"  AppTest's own start on an empty page                         {a['apptest_overhead_s']:6.2f} s")
    print(f"  a new session on warm caches                                 {a['new_session_s']:6.2f} s")
    print(f"  a rerun of the same session                                  {a['rerun_s']:6.2f} s")
    print(f"  (importing streamlit beforehand                              {a['import_streamlit_s']:6.2f} s)")
    print("pure functions (no Streamlit)")
    print(f"  import the views (pandas)                                    {p['import_views_s']:6.2f} s")
    print(f"  read scores, runs, submissions (Parquet)                     {p['read_tables_s']:6.2f} s")
    print(f"  pool records, view, display table, hidden entries            {p['table_views_s']:6.2f} s")
    print(f"  ratio table (coloured, with tooltips, to HTML)               {p['heatmap_s']:6.2f} s")
    verdict = "met" if c["first_render_s"] < GOAL_S else "NOT met"
    print(f"\ngoal: first render under {GOAL_S:g} s: {verdict} ({c['first_render_s']:.2f} s nothing warmed)")


if __name__ == "__main__":
    main()
