"""Permalinks: every filter and selection as a flat ``name -> text`` map, written into the page's URL.

Values are text in the URL: a flag is ``1`` / ``0``, a list is comma-separated (names never contain commas:
submissions and workloads are folder names).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

Value = str | bool | tuple[str, ...]

#: Every parameter a Podium URL may carry, and what it selects. A name not here is reported, not silently dropped.
PARAMS = {
    "release": "bundle (release)", "track": "track", "ruleset": "ruleset", "hw": "hardware class",
    "q": "leaderboard search", "sort": "leaderboard sort", "desc": "descending sort", "cols": "leaderboard columns",
    "hide_missed": "hide entries that reached no target", "peft_cols": "PEFT cost columns",
    "compression_cols": "compression measurement columns",
    "psubs": "profiles: submissions", "log": "profiles: log-scale tau",
    "wl": "workload", "wsubs": "workload: submissions", "metric": "workload: metric",
    "sub": "submission", "sub_fmt": "submission: download format", "a": "compare: submission A",
    "b": "compare: submission B", "cwl": "compare: workload", "fmt": "downloads: format", "table": "downloads: table",
    "tab": "submission: the selected tab", "xaxis": "learning curves: the selected tab (x axis)", "cost": "score-vs-cost: the cost axis",
    "wcost": "workload: the cost axis",
}


def unknown(names) -> list[str]:
    """
    >>> unknown(["q", "sortt", "sub"])
    ['sortt']
    """
    return [n for n in names if n not in PARAMS]


def encode(value: Value) -> str:
    """
    >>> encode(True), encode(("a", "b")), encode("x")
    ('1', 'a,b', 'x')
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (tuple, list)):
        return ",".join(value)
    return str(value)


def decode(text: str, like: Value) -> Value:
    """Text from the URL as the type of ``like`` (the widget's default).

    >>> decode("0", True), decode("a,b", ()), decode("", ()), decode("x", "")
    (False, ('a', 'b'), (), 'x')
    """
    if isinstance(like, bool):
        return text not in ("0", "false", "False", "")
    if isinstance(like, (tuple, list)):
        return tuple(t for t in text.split(",") if t)
    return text


def page_link(base_url: str | None, page_path: str, params: dict[str, str]) -> str:
    """The URL of ``page_path`` with ``params``; relative when the app's own URL is unknown.

    >>> page_link("http://127.0.0.1:8501/profiles", "compare", {"a": "x", "b": "y z"})
    'http://127.0.0.1:8501/compare?a=x&b=y+z'
    >>> page_link(None, "", {"q": "adam"})
    '/?q=adam'
    """
    origin = ""
    if base_url:
        parts = urlsplit(base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
    query = urlencode(sorted(params.items()))
    return f"{origin}/{page_path}" + (f"?{query}" if query else "")
