"""The leaderboard's first paint: the default view's table as plain HTML inside the page Streamlit serves, shown
until the app has drawn its own. No Streamlit here.

Why. A Streamlit page draws nothing until its JavaScript (about 1 s to load and parse on this machine's class of
CPU, before any app code runs) has opened a websocket and the script has run: 3-4 s to the table in headless
Chromium on the 200-submission synthetic bundle (``benchmarks/board_browser.py``). A reader who opens the
leaderboard wants the ranking; the sort, filters, tooltips and charts can follow. So ``podium board`` serves the
leaderboard's addresses (``/``, ``/home``, ``/leaderboard``, without a query string) with Streamlit's own
``index.html`` plus, in front of the app, the same table the app's default view shows (same rows, same order, same
columns, same words: it is made by :mod:`leaderboard.views.table` from the bundle's ``scores``), written as HTML
before the page leaves the server. A few lines of script remove it once the app has drawn its leaderboard table (or
an exception, or another page); until then a line at its top says the interactive view is loading.

What it is not. Not a second leaderboard: it has no state and no widgets, and it is never served for an address
with a query string (a permalink restores a view the snapshot does not know: that page waits for the app). It is
made per bundle and manifest hash, so a re-published bundle gets a new one. When the bundle cannot be read, the
page is Streamlit's own, unchanged, and the app says what is wrong.

How it is served: :func:`routes` gives Starlette routes for Streamlit's public ``st.App(..., routes=...)``
(``leaderboard/server.py``); user routes come before Streamlit's static files.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
from pathlib import Path

from leaderboard.bundle import BundleNotFoundError, BundleRef, open_bundle, read_table
from leaderboard.views import about, compression, peft, pools, table

LOG = logging.getLogger(__name__)
#: The app's addresses that show the leaderboard by default (``app.py``: default page ``home``, alias
#: ``leaderboard``).
PATHS = ("/", "/home", "/leaderboard")
ELEMENT_ID = "podium-first-paint"
#: What tells the script that the app has drawn a page of its own: the leaderboard grid with rows, or an exception.
#: Also: a page title other than the leaderboard's (another page), or the leaderboard's title shown for
#: :data:`GRACE_MS` (a pool whose table is empty has no rows to wait for).
READY_SELECTORS = ('[data-testid="stMain"] [data-testid="stDataFrame"] table[role=grid] tbody tr',
                   '[data-testid="stException"]')
GRACE_MS = 3000
#: Rows of the ranking the first paint shows: a 1000-pixel-high window shows about 30. Every element it adds is
#: styled again each time the app adds its styles while it starts: in side-by-side trials all 200 rows of the
#: synthetic bundle's table delayed the app's own table by about a second, 25 rows by nothing measurable.
#: ``benchmarks/board_browser.py`` prints what the first paint costs the app's table (its "app alone" line).
FIRST_ROWS = 30

STYLE = """
#podium-first-paint { position: absolute; inset: 0 0 auto 0; min-height: 100vh; z-index: 999990; background: #fff;
  color: rgb(49, 51, 63); font-family: "Source Sans", "Source Sans Pro", sans-serif; font-size: 14px;
  padding: 3.5rem 3rem 2rem 3rem; box-sizing: border-box; }
#podium-first-paint h1 { font-size: 2.2rem; font-weight: 700; margin: 0.5rem 0 0.5rem 0; }
#podium-first-paint p { margin: 0.25rem 0; }
#podium-first-paint .fp-note { color: rgba(49, 51, 63, 0.6); }
#podium-first-paint table { border-collapse: collapse; margin-top: 0.75rem; font-variant-numeric: tabular-nums; }
#podium-first-paint th, #podium-first-paint td { border: 1px solid rgba(49, 51, 63, 0.1); padding: 2px 8px;
  text-align: left; white-space: nowrap; }
#podium-first-paint th { background: #f8f9fb; font-weight: 400; color: rgba(49, 51, 63, 0.6); }
"""

SCRIPT = """
(function () {
  var el = document.getElementById("%(id)s");
  if (!el) { return; }
  window.podiumFirstPaintRows = el.querySelectorAll("tbody tr").length;  // what the benchmark checks it saw
  var selectors = %(selectors)s, titled = null;
  function drawn() {
    for (var i = 0; i < selectors.length; i++) { if (document.querySelector(selectors[i])) { return true; } }
    var h = document.querySelector('[data-testid="stMain"] h1');
    if (!h) { return false; }
    if (h.textContent.trim() !== "Leaderboard") { return true; }
    titled = titled || performance.now();
    return performance.now() - titled > %(grace)d;
  }
  function check() {
    if (el.isConnected && drawn()) { observer.disconnect(); clearInterval(timer); el.remove(); }
  }
  var observer = new MutationObserver(check);
  observer.observe(document.documentElement, {childList: true, subtree: true});
  var timer = setInterval(check, 500);  // the grace period ends without a mutation
})();
"""


def default_pool(manifest: dict) -> str | None:
    """The pool the app shows first (the sidebar's defaults: :func:`leaderboard.views.pools.default_option` at each
    level); None when the bundle has no pool."""
    keys = manifest.get("pools", [])
    chosen: dict[str, str] = {}
    for level in pools.LEVELS:
        options = pools.level_options(keys, chosen)[level]
        if not options:
            return None
        chosen[level] = pools.default_option(level, options)
    return pools.PoolKey(chosen["track"], chosen["ruleset"], chosen["hardware_class"], manifest["release"]).key


def fragment(ref: BundleRef) -> str | None:
    """The HTML shown first for this bundle: the header's facts and the leaderboard table of its default pool in
    the app's default view. None when the bundle has no pool."""
    manifest = ref.manifest()
    pool = default_pool(manifest)
    if pool is None:
        return None
    records = table.pool_records(read_table(ref, "scores"), pool)
    # a PEFT or compression pool's measurements need the whole trials table; the header, only a few of its columns
    # (read alone otherwise)
    whole = peft.is_peft(pool) or compression.is_compression(pool)
    trials = read_table(ref, "trials", None if whole else list(about.HEADER_TRIAL_COLUMNS))
    if peft.is_peft(pool):
        records = peft.with_peft_columns(records, peft.cost_points(trials, records, manifest.get("workloads", {})))
    elif compression.is_compression(pool):
        records = compression.with_compression_columns(records, compression.cost_points(
            trials, records, manifest.get("workloads", {}), pools.PoolKey.parse(pool).hardware_class))
    config = table.TableConfig()
    view, _ = table.view_records(records, config)
    shown = table.display_table(view.head(FIRST_ROWS), link=None, why_column="why" in config.columns)
    facts = about.header(manifest, read_table(ref, "runs"), trials, records, pool)
    esc = html.escape
    rows_note = (f"The top {len(shown)} of {len(view)}; the whole table comes with the interactive view. "
                 if len(view) > len(shown) else "")
    head = (f"<p><b>Podium</b> · release <b>{esc(facts.release)}</b> · last updated {esc(facts.updated)} · hardware "
            f"<b>{esc(facts.hardware_class)}</b> ({esc(facts.hardware)}) · harness <code>{esc(facts.commit)}</code>"
            " · "
            f"protocol {esc(facts.protocol_text())}</p>")
    body = shown.to_html(index=False, na_rep="–", escape=True, border=0, float_format=lambda v: f"{v:.3f}")
    return (f'<div id="{ELEMENT_ID}" role="region" aria-label="Leaderboard (loading the interactive view)">{head}'
            f"<h1>Leaderboard</h1><p>Pool <b>{esc(pool)}</b> · {len(records)} ranked submissions · release "
            f"{esc(ref.release)} (manifest {esc(ref.manifest_hash[:8])})</p>"
            f'<p class="fp-note">{rows_note}Loading the interactive view (search, sort, columns, explanations, '
            "charts)…</p>"
            f"{body}</div>")


def inject(index_html: str, first: str) -> str:
    """Streamlit's ``index.html`` with ``first`` (from :func:`fragment`) at the start of its body, its style in the
    head and the script that removes it at the end of the body.

    >>> page = inject("<html><head></head><body><div id=root></div></body></html>", '<div id="podium-first-paint">')
    >>> page.index('<div id="podium-first-paint">') < page.index("<div id=root>") < page.index("MutationObserver")
    True
    """
    script = SCRIPT % {"id": ELEMENT_ID, "selectors": json.dumps(list(READY_SELECTORS)), "grace": GRACE_MS}
    page = index_html.replace("</head>", f"<style>{STYLE}</style></head>", 1)
    page, deferred = _defer_app_scripts(page)
    body_at = page.index("<body")
    body_open = page.index(">", body_at) + 1
    page = page[:body_open] + first + page[body_open:]
    return page.replace("</body>", f"<script>{script}{deferred}</script></body>", 1)


#: Streamlit's entry module and the modules it preloads, as its index.html names them.
APP_SCRIPT = re.compile(r'<script type="module"[^>]*\bsrc="([^"]+)"[^>]*></script>')
PRELOADS = re.compile(r'<link rel="modulepreload"[^>]*>')
LOADER = """
requestAnimationFrame(function () { setTimeout(function () {
  document.head.insertAdjacentHTML("beforeend", %(preloads)s);
  var app = document.createElement("script");
  app.type = "module"; app.crossOrigin = ""; app.src = %(src)s;
  document.head.appendChild(app);
}, 0); });
"""


def _defer_app_scripts(page: str) -> tuple[str, str]:
    """``page`` without Streamlit's entry script and module preloads, and the script that adds them back once the
    first paint is on screen. Loaded from the start, the entry module and its 58 preloads (2.1 MB of JavaScript in
    Streamlit 1.67, to fetch and compile) hold back the first paint: in side-by-side trials on 2 cores the first
    contentful paint came about twice as late with them in the head (the app itself starts a frame later).
    Unchanged when the page does not have the expected tags (another Streamlit version): then it only loses that
    gain."""
    entry = APP_SCRIPT.search(page)
    if entry is None:
        return page, ""
    preloads = "".join(PRELOADS.findall(page))
    page = PRELOADS.sub("", page.replace(entry.group(0), "", 1))

    def literal(text: str) -> str:  # a JavaScript string that cannot end the script element it is in
        return json.dumps(text).replace("</", "<\\/")

    return page, LOADER % {"preloads": literal(preloads), "src": literal(html.unescape(entry.group(1)))}


class FirstPaint:
    """Pages with the first paint for one bundle folder, made once per manifest hash (a re-published bundle gets a
    new one) and served from memory."""

    def __init__(self, folder: Path, index_html: str):
        self.folder, self.index_html = Path(folder), index_html
        self._cached: tuple[str, str] | None = None  # manifest hash -> page
        self._lock = threading.Lock()

    def page(self) -> str:
        """The page to serve: Streamlit's ``index.html`` with the first paint, or unchanged when the bundle cannot
        be read or has no pool (the app reports why)."""
        try:
            ref = open_bundle(self.folder)
        except (BundleNotFoundError, OSError, ValueError, KeyError):
            return self.index_html
        with self._lock:
            if self._cached is None or self._cached[0] != ref.manifest_hash:
                try:
                    first = fragment(ref)
                except Exception:  # noqa: BLE001 - a first paint must never stop the app from being served
                    LOG.exception("first paint of %s failed; serving the plain page", self.folder)
                    first = None
                self._cached = (ref.manifest_hash, self.index_html if first is None else inject(self.index_html,
                                                                                                 first))
            return self._cached[1]


def streamlit_index() -> str:
    """Streamlit's own ``index.html`` (the page its static files serve)."""
    from streamlit import file_util

    return (Path(file_util.get_static_dir()) / "index.html").read_text(encoding="utf-8")


def routes(folders: list[Path]) -> list:
    """Starlette routes serving the leaderboard's addresses with the first paint of the first bundle (the one the
    app shows first); an address with a query string gets Streamlit's page unchanged."""
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    index_html = streamlit_index()
    first = FirstPaint(folders[0], index_html) if folders else None
    if first is not None:
        first.page()  # made while the server starts, not while its first reader waits

    async def leaderboard(request):
        import anyio

        page = index_html if first is None or request.url.query else await anyio.to_thread.run_sync(first.page)
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    return [Route(path, leaderboard, methods=["GET", "HEAD"]) for path in PATHS]

