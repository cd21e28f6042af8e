"""Streamlit glue: which bundles are served, widgets bound to the URL (permalinks), and the caches.

Permalinks. Every filter and selection has a short name (``release``, ``q``, ``sub``...). Its value lives in three
places, kept equal on every run: the URL (``st.query_params``, what a copied link carries), a per-session store
(which survives moving between pages, where Streamlit drops the query string), and the widget. A value arriving in
the URL wins over the stored one; a widget the reader just changed wins over both.

Caches. Raw tables are held once per process with ``st.cache_resource``, keyed on the bundle's manifest hash:
``st.cache_data`` would pickle and copy the ~400,000 evaluation rows of a large bundle on every rerun. The views
must (and do) treat them as read-only. Everything derived from them (pool records, curves, profiles) goes through
``st.cache_data``, keyed on the manifest hash and the view's arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from leaderboard.bundle import BundleNotFoundError, BundleRef, bundle_args, open_bundle, read_table, release_labels
from leaderboard.views import about, compression, cost, curves, peft, permalink, pools, profiles, submission, table

STORE = "_podium_params"
ARRIVED = "_podium_arrived"  # name -> text of the parameters the URL carried at the start of this run
PROBLEMS = "_podium_url_problems"  # what was wrong with them, reported at the top of the page
CONTEXT = "_podium_context"



# ---- bundles ----------------------------------------------------------------------------------------------------
def open_bundles(folders: list[Path]) -> tuple[list[BundleRef], list[str]]:
    """The bundles that open, and one message per folder that does not."""
    refs, problems = [], []
    for folder in folders:
        try:
            refs.append(open_bundle(folder))
        except BundleNotFoundError as exc:
            problems.append(str(exc))
    return refs, problems


@st.cache_resource(show_spinner=False, max_entries=64)
def raw_table(path: str, manifest_hash: str, name: str) -> pd.DataFrame:
    """A bundle table, read once per process and manifest hash (read-only: see the module docstring)."""
    return read_table(BundleRef(path, "", manifest_hash), name)


def tables(ref: BundleRef, *names: str) -> list[pd.DataFrame]:
    return [raw_table(ref.path, ref.manifest_hash, n) for n in names]


@st.cache_data(show_spinner=False, max_entries=256)
def pool_records(path: str, manifest_hash: str, pool: str) -> pd.DataFrame:
    return table.pool_records(raw_table(path, manifest_hash, "scores"), pool)


@st.cache_data(show_spinner=False, max_entries=256)
def cost_points(path: str, manifest_hash: str, pool: str) -> pd.DataFrame:
    """A PEFT pool's costs per submission and workload (:func:`leaderboard.views.peft.cost_points`); empty for
    any other pool."""
    if not peft.is_peft(pool):
        return peft.cost_points(pd.DataFrame(), pd.DataFrame())
    specs = BundleRef(path, "", manifest_hash).manifest().get("workloads", {})
    return peft.cost_points(raw_table(path, manifest_hash, "trials"), pool_records(path, manifest_hash, pool), specs)


@st.cache_data(show_spinner=False, max_entries=256)
def compression_points(path: str, manifest_hash: str, pool: str) -> pd.DataFrame:
    """A compression pool's measurements per submission and workload
    (:func:`leaderboard.views.compression.cost_points`); empty for any other pool."""
    if not compression.is_compression(pool):
        return compression.cost_points(pd.DataFrame(), pd.DataFrame())
    specs = BundleRef(path, "", manifest_hash).manifest().get("workloads", {})
    return compression.cost_points(raw_table(path, manifest_hash, "trials"), pool_records(path, manifest_hash, pool),
                                   specs, pools.PoolKey.parse(pool).hardware_class)


@st.cache_data(show_spinner=False, max_entries=256)
def board_records(path: str, manifest_hash: str, pool: str) -> pd.DataFrame:
    """The records the leaderboard table shows: the pool's score records, with the PEFT columns in a PEFT pool and
    the compression columns in a compression pool."""
    records = pool_records(path, manifest_hash, pool)
    if peft.is_peft(pool):
        return peft.with_peft_columns(records, cost_points(path, manifest_hash, pool))
    if compression.is_compression(pool):
        return compression.with_compression_columns(records, compression_points(path, manifest_hash, pool))
    return records


@st.cache_data(show_spinner=False, max_entries=256)
def workload_points(path: str, manifest_hash: str, pool: str, workload: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(trials, eval points)`` of one workload in one pool: the slice the Workload and Compare pages plot."""
    records = pool_records(path, manifest_hash, pool)
    trials = curves.counted_trials(raw_table(path, manifest_hash, "trials"), records, workload)
    return trials, curves.eval_points(raw_table(path, manifest_hash, "evals"), trials)


@st.cache_data(show_spinner=False, max_entries=256)
def pool_profiles(path: str, manifest_hash: str, pool: str) -> pd.DataFrame:
    return profiles.pool_profiles(raw_table(path, manifest_hash, "profiles"), pool)


@st.cache_data(show_spinner=False, max_entries=256)
def workload_options(path: str, manifest_hash: str, pool: str) -> list[str]:
    return curves.workload_options(raw_table(path, manifest_hash, "trials"), pool_records(path, manifest_hash, pool))


@st.cache_data(show_spinner=False, max_entries=256)
def run_trials(path: str, manifest_hash: str, run_id: str) -> pd.DataFrame:
    return submission.run_trials(raw_table(path, manifest_hash, "trials"), run_id)


@st.cache_data(show_spinner=False, max_entries=64)
def run_evals(path: str, manifest_hash: str, run_id: str) -> pd.DataFrame:
    return submission.trial_evals(raw_table(path, manifest_hash, "evals"), run_trials(path, manifest_hash, run_id))


@st.cache_data(show_spinner=False, max_entries=64)
def pool_costs(path: str, manifest_hash: str, pool: str) -> pd.DataFrame:
    return cost.pool_costs(raw_table(path, manifest_hash, "trials"), pool_records(path, manifest_hash, pool))


@st.cache_data(show_spinner=False, max_entries=256)
def workload_costs(path: str, manifest_hash: str, pool: str, workload: str) -> pd.DataFrame:
    return cost.workload_costs(raw_table(path, manifest_hash, "trials"), pool_records(path, manifest_hash, pool),
                               workload)


@st.cache_data(show_spinner=False, max_entries=64)
def header_facts(path: str, manifest_hash: str, pool: str) -> about.Header:
    ref = BundleRef(path, "", manifest_hash)
    trials = read_table(ref, "trials", list(about.HEADER_TRIAL_COLUMNS))  # not the whole table: the first page waits
    return about.header(ref.manifest(), raw_table(path, manifest_hash, "runs"), trials,
                        pool_records(path, manifest_hash, pool), pool)


# ---- the pool being looked at -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """What every page looks at: one bundle and one pool in it, with that pool's score records."""

    ref: BundleRef
    pool: str
    r_max: float
    records: pd.DataFrame
    url: str | None

    def link(self, page_path: str, **overrides: str) -> str:
        return permalink.page_link(self.url, page_path, {**saved(), **overrides})


def pool_selectors(refs: list[BundleRef], url: str | None) -> Context | None:
    """Release, track, ruleset and hardware class selectors in the sidebar; None when the bundle has no pool.

    The context is kept in the session for the page that runs next (:func:`context`)."""
    labels = release_labels(refs)
    label = selectbox("release", "Release", list(labels), list(labels)[0], st.sidebar)
    ref = labels[label]
    manifest = ref.manifest()
    chosen: dict[str, str] = {}
    for level, name, title in (("track", "track", "Track"), ("ruleset", "ruleset", "Ruleset"),
                               ("hardware_class", "hw", "Hardware class")):
        options = pools.level_options(manifest.get("pools", []), chosen)[level]
        if not options:
            return None
        chosen[level] = selectbox(name, title, options, pools.default_option(level, options), st.sidebar)
    pool = pools.PoolKey(chosen["track"], chosen["ruleset"], chosen["hardware_class"], ref.release).key
    r_max = float(manifest.get("scoring", {}).get("r_max", 4.0))
    ctx = Context(ref, pool, r_max, pool_records(ref.path, ref.manifest_hash, pool), url)
    st.session_state[CONTEXT] = ctx
    return ctx


def context() -> Context:
    """The bundle and pool chosen in the sidebar (``app.py`` runs the selectors before any page)."""
    return st.session_state[CONTEXT]


# ---- widgets bound to the URL -------------------------------------------------------------------------------------
def saved() -> dict[str, str]:
    if STORE not in st.session_state:
        st.session_state[STORE] = {}
    return st.session_state[STORE]


def sync_url() -> None:
    """Start of every run: values arriving in the URL go to the store; then the URL shows the whole store."""
    store, problems = saved(), []
    arrived = {name: st.query_params[name] for name in st.query_params}
    for name, value in arrived.items():
        if name in permalink.PARAMS:
            store[name] = value
        else:
            problems.append(f"Unknown URL parameter `{name}={value}` (ignored).")
    st.session_state[ARRIVED] = {n: v for n, v in arrived.items() if n in permalink.PARAMS}
    st.session_state[PROBLEMS] = problems
    st.query_params.from_dict(store)


def url_problems() -> list[str]:
    """Parameters of this run's URL that were unknown or not a valid choice (each replaced by a default)."""
    return list(st.session_state.get(PROBLEMS, []))


def show_url_problems(slot) -> None:
    """Report, in ``slot`` (made before the page ran), every URL parameter that could not be used."""
    problems = url_problems()
    if problems:
        with slot.container():
            for problem in problems:
                st.warning(problem, icon=":material/link_off:")


def _remember(name: str, value: permalink.Value) -> None:
    saved()[name] = st.query_params[name] = permalink.encode(value)


def _prepare(name: str, default: permalink.Value, valid) -> str:
    """Put the value the widget should show into its state (before it is drawn); returns the widget key."""
    key = f"w_{name}"
    arrived = st.session_state.get(ARRIVED, {})
    if name in arrived:
        given = permalink.decode(arrived[name], default)
        if not valid(given):
            st.session_state.setdefault(PROBLEMS, []).append(
                f"URL parameter `{name}={arrived[name]}` is not a valid {permalink.PARAMS.get(name, name)} here; "
                f"showing {permalink.encode(default) or 'none'!r} instead.")
            saved().pop(name, None)
        del arrived[name]  # reported once per run
    current = st.session_state.get(key)
    if current is None or not valid(current):
        text = saved().get(name)
        current = permalink.decode(text, default) if text is not None else default
        current = current if valid(current) else default
    st.session_state[key] = current
    return key


def selectbox(name: str, label: str, options: list[str], default: str, where=st, **kwargs) -> str:
    key = _prepare(name, default if default in options else options[0], lambda v: v in options)
    value = where.selectbox(label, options, key=key, **kwargs)
    _remember(name, value)
    return value


def radio(name: str, label: str, options: list[str], default: str, where=st, **kwargs) -> str:
    key = _prepare(name, default, lambda v: v in options)
    value = where.radio(label, options, key=key, horizontal=True, **kwargs)
    _remember(name, value)
    return value


def multiselect(name: str, label: str, options: list[str], default: Sequence[str], where=st,
                **kwargs) -> tuple[str, ...]:
    key = _prepare(name, tuple(default), lambda v: all(x in options for x in v))
    st.session_state[key] = list(st.session_state[key])
    value = tuple(where.multiselect(label, options, key=key, **kwargs))
    _remember(name, value)
    return value


def tabs(name: str, labels: list[str], where=st) -> list:
    """Tabs whose selected label is in the URL (``name``), so a link opens the tab it was copied from."""
    key = _prepare(name, labels[0], lambda v: v in labels)
    containers = where.tabs(labels, key=key, on_change="rerun")
    _remember(name, st.session_state.get(key) or labels[0])
    return containers


def text(name: str, label: str, where=st, **kwargs) -> str:
    key = _prepare(name, "", lambda v: isinstance(v, str))
    value = where.text_input(label, key=key, **kwargs)
    _remember(name, value)
    return value


def toggle(name: str, label: str, default: bool = False, where=st, **kwargs) -> bool:
    key = _prepare(name, default, lambda v: isinstance(v, bool))
    value = where.checkbox(label, key=key, **kwargs)
    _remember(name, value)
    return value


def table_config(records: pd.DataFrame, where=st) -> table.TableConfig:
    """The leaderboard's search, sort and column widgets, as one config."""
    default = table.TableConfig()
    left, middle, right = where.columns([3, 3, 2], vertical_alignment="bottom")
    search = text("q", "Search submissions", left, placeholder="name contains...")
    sort = selectbox("sort", "Sort by", table.sort_options(records), default.sort, middle, format_func=table.sort_label)
    descending = toggle("desc", "Descending", default.descending, right)
    # the column chips get a row of their own: in a third of the page they were cut off
    columns = multiselect("cols", "Columns", list(table.COLUMN_GROUPS), default.columns, where,
                          format_func=table.COLUMN_GROUPS.get)
    first, second = where.columns(2)
    hide = toggle("hide_missed", "Hide entries that reached no workload target", default.hide_missed, first)
    costs = bool(peft.leaderboard_columns(records)) and toggle(  # only a PEFT pool has the toggle
        "peft_cols", "PEFT costs per workload (trainable, memory, adapter, latency, forgetting)", default.peft_costs,
        second)
    measures = bool(compression.leaderboard_columns(records)) and toggle(  # only a compression pool has this one
        "compression_cols", "Compression measurements per workload (bytes ×, latency ×, sparsity, bits/weight)",
        default.compression_measures, second)
    choices = table.frameworks(records)
    framework = "all" if len(choices) < 2 else selectbox(  # a pool with submissions in both frameworks has one
        "fw", "Framework", ["all", *choices], "all", first)
    return table.TableConfig(search, sort, descending, columns, hide, costs, measures,
                             "" if framework == "all" else framework)


def column_config(view: pd.DataFrame, variants: Sequence[str] = ()) -> dict:
    """How the leaderboard's columns are drawn (the submission column is a link to its page); ``variants``: the
    pool's held-out variants (their time columns say so)."""
    config = {"submission": st.column_config.LinkColumn("submission", display_text=r"[?&]sub=([^&]*)"),
              "rank": st.column_config.NumberColumn("rank", format="%d", width="small"),
              "score": st.column_config.NumberColumn("score", format="%.3f"),
              "best rank": st.column_config.TextColumn("best rank", help="best rank the score interval supports; "
                                                                    "none below the minimum n"),
              "n": st.column_config.NumberColumn("n", format="%d", width="small",
                                                 help="runs behind the score: studies × scoring seeds"),
              "cause": st.column_config.TextColumn("cause", help="why a time or ratio has no number (miss, variant miss, > r_max)", width="large"),
              "speedup ×": st.column_config.TextColumn("speedup ×", help="geometric mean over base workloads of "
                                                       "the reference's time / this time; > 1 is faster")}
    markers = "miss = target not reached; variant miss: V = reached it, failed held-out variant V; > r_max = more "
    for col in view.columns:
        label = col.replace(":", " · ")
        if col.startswith("ratio:"):
            config[label] = st.column_config.TextColumn(
                label, help=f"time / best time in the pool on {col[6:]} (1 = fastest). {markers}than r_max × the "
                            "best. The cause of each is in cause; hover the heatmap below for times and causes.")
        elif col.startswith(("time:", "algoperf_time:")):
            variant = col[5:] in variants
            config[label] = st.column_config.TextColumn(
                label, help=("held-out variant, not scored on its own: it decides whether its base workload's time "
                             "counts. " if variant else "") + f"seconds of submission time to the target. {markers}"
                            "than r_max × the best.")
        elif col.startswith("n:"):
            config[label] = st.column_config.NumberColumn(label, format="%d", help="studies × scoring seeds")
        elif col.startswith(peft.PREFIXES):
            label, fmt, help_text = peft.column_spec(col)
            config[label] = (st.column_config.NumberColumn(label, format=fmt, help=help_text) if fmt else
                             st.column_config.TextColumn(label, help=help_text))
        elif col.startswith(compression.PREFIXES):
            label, fmt, help_text = compression.column_spec(col)
            config[label] = st.column_config.NumberColumn(label, format=fmt, help=help_text)
    return config


def stored_table_config(records: pd.DataFrame) -> table.TableConfig:
    """The leaderboard's current config read from the store (for pages that do not draw its widgets)."""
    store, default = saved(), table.TableConfig()

    def get(name: str, like):
        return permalink.decode(store[name], like) if name in store else like

    columns = tuple(c for c in get("cols", default.columns) if c in table.COLUMN_GROUPS)
    sort = get("sort", default.sort)
    return table.TableConfig(get("q", default.search), sort if sort in table.sort_options(records) else "rank",
                             get("desc", default.descending), columns, get("hide_missed", default.hide_missed),
                             get("peft_cols", default.peft_costs),
                             get("compression_cols", default.compression_measures))


def pareto_charts(ctx: Context, workload: str, submissions: list[str], key: str) -> None:
    """The two Pareto charts of a PEFT or compression pool on one workload, side by side, for ``submissions``."""
    if compression.is_compression(ctx.pool):
        compression_charts(ctx, workload, submissions, key)
        return
    points = cost_points(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)
    shown = points[(points["workload"] == workload) & points["submission"].isin(submissions)]
    if shown.empty:
        st.info(f"No PEFT measurements for {workload} in this pool.")
        return
    left, right = st.columns(2)
    left.plotly_chart(peft.memory_time_figure(shown, workload), key=f"{key}_memory")
    right.plotly_chart(peft.params_metric_figure(shown, workload), key=f"{key}_params")
    st.caption(
        "One point per submission: medians over its scoring trials (the chosen configuration re-run on held-out "
        "seeds) that were measured. Red diamonds joined by a step line: the Pareto front, the submissions no other "
        "one beats on both axes (left: less peak memory and less time; right: fewer trainable parameters and a "
        "better validation metric). Time-to-target: the median over the scoring trials that reached the target "
        "(not the official workload time, which counts a missed seed as infinite: see the table's ratios); a "
        "submission none of whose trials reached it is a miss, a grey cross at the right edge, never on the front. "
        "Validation metric: the median of each trial's last validation value; trials stop at the target, so those "
        "that reach it sit just past the dotted target line.")


def compression_charts(ctx: Context, workload: str, submissions: list[str], key: str) -> None:
    """The two Pareto charts of a compression pool on one workload (the validation metric against the bytes ratio
    and against the latency ratio), side by side, for ``submissions``."""
    points = compression_points(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)
    shown = points[(points["workload"] == workload) & points["submission"].isin(submissions)]
    if shown.empty:
        st.info(f"No compression measurements for {workload} in this pool.")
        return
    left, right = st.columns(2)
    left.plotly_chart(compression.bytes_figure(shown, workload), key=f"{key}_bytes")
    right.plotly_chart(compression.latency_figure(shown, workload), key=f"{key}_latency")
    measure = next(iter(shown["measure"].dropna()), None)
    st.caption(
        "One point per submission: the median over its scoring trials (the chosen configuration re-run on held-out "
        "seeds) that were measured of each value on its own, the ratio (to the dense model, measured alongside it) "
        "and the validation metric of the saved model. Red diamonds joined by a step line: the Pareto front, the "
        "submissions no other one beats on both axes (a smaller ratio and a better metric); hover a point for what "
        "dominates it. Dotted across: the quality floor (a share of the dense model's metric); dotted upright: the "
        + (f"ratio target, on the {compression.RATIOS[measure]} chart only (this workload bounds its "
           f"{compression.RATIOS[measure]} ratio)." if measure in compression.RATIOS else
           "ratio target (none set for this workload).")
        + " A trial reached when it met both within the budget.")


def show_header(ctx: Context, methodology, how_to_submit) -> None:
    """The line above every page: release, last update, hardware, harness commit, protocol, and the two pages that
    explain them."""
    h = header_facts(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)
    with st.container(key="podium_header"):
        st.markdown(
            f"**Podium** · release **{h.release}** · last updated {h.updated} · hardware **{h.hardware_class}** "
            f"({h.hardware}) · harness `{h.commit}` · protocol {h.protocol_text()}")
        left, right, _ = st.columns([1, 1, 4])
        left.page_link(methodology, label="Methodology", icon=":material/menu_book:")
        right.page_link(how_to_submit, label="How to submit", icon=":material/upload:")


def show_permalink(slot, url: str | None, page_path: str) -> None:
    """Fill ``slot`` (made before the page ran) with the link to this exact view: a plain link (copy its address),
    not a code box, whose syntax highlighter is 1.5 MB of JavaScript the first page would wait for."""
    link = permalink.page_link(url, page_path, saved())
    with slot.container():
        st.markdown(f"[:material/link: Link to this view]({link}) · every filter and selection is in it (copy the "
                    "link's address)", help=link)
