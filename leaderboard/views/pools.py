"""Pools: what may be compared (one track, ruleset, hardware class and release; see :mod:`harness.report`)."""

from __future__ import annotations

from dataclasses import dataclass

#: Preferred defaults when a bundle has them; otherwise the first option in sorted order.
PREFERRED = {"track": "training", "ruleset": "external", "hardware_class": "cpu-2core"}
LEVELS = ("track", "ruleset", "hardware_class")


@dataclass(frozen=True)
class PoolKey:
    track: str
    ruleset: str
    hardware_class: str
    release: str

    @property
    def key(self) -> str:
        """The pool key used in the bundle's ``scores`` and ``profiles`` tables."""
        return f"{self.track}/{self.ruleset}/{self.hardware_class}/{self.release}"

    @classmethod
    def parse(cls, key: str) -> PoolKey:
        """
        >>> PoolKey.parse("training/external/cpu-2core/r1").ruleset
        'external'
        """
        track, ruleset, hardware_class, release = key.split("/", 3)
        return cls(track, ruleset, hardware_class, release)


def level_options(pools: list[str], chosen: dict[str, str]) -> dict[str, list[str]]:
    """Options of each selector given the choices above it (track, then ruleset, then hardware class).

    >>> level_options(["t/external/cpu/r", "t/self/cpu/r", "t/self/gpu/r"], {"track": "t", "ruleset": "self"})
    {'track': ['t'], 'ruleset': ['external', 'self'], 'hardware_class': ['cpu', 'gpu']}
    """
    keys = [PoolKey.parse(p) for p in pools]
    options: dict[str, list[str]] = {}
    for level in LEVELS:
        options[level] = sorted({getattr(k, level) for k in keys})
        pick = chosen.get(level)
        if pick in options[level]:
            keys = [k for k in keys if getattr(k, level) == pick]
        elif options[level]:
            fallback = default_option(level, options[level])
            keys = [k for k in keys if getattr(k, level) == fallback]
    return options


def default_option(level: str, options: list[str]) -> str:
    """
    >>> default_option("ruleset", ["external", "self"]), default_option("ruleset", ["self"])
    ('external', 'self')
    """
    return PREFERRED[level] if PREFERRED.get(level) in options else options[0]


def pool_warnings(manifest: dict, pool: str) -> list[str]:
    """The warnings ``podium publish`` recorded for ``pool`` (degenerate intervals: too few runs, zero width).

    >>> pool_warnings({"warnings": ["pool t/e/c/r: 2 of 2 submissions ...", "pool t/s/c/r: ..."]}, "t/e/c/r")
    ['pool t/e/c/r: 2 of 2 submissions ...']
    """
    return [w for w in manifest.get("warnings", []) if w.startswith(f"pool {pool}:")]


#: How the leaderboard words each held-out variant rule a bundle's manifest may name (``scoring.variant_rule``).
VARIANT_RULES = {
    "algoperf-v0.5": "AlgoPerf v0.5's rule: a base workload's time counts only if the submission reached each scored "
                     "variant within r_max × the fastest among those that reached the base target; the r_max cut on "
                     "the base workload is made before this penalty",
}


def variant_rule_text(manifest: dict) -> str:
    """Which held-out variant rule the bundle's scores use, in words (older bundles did not record it).

    >>> variant_rule_text({"scoring": {"variant_rule": "algoperf-v0.5"}})[:24]
    "AlgoPerf v0.5's rule: a "
    >>> variant_rule_text({"scoring": {}})[:36]
    'rule not recorded in this bundle: it'
    """
    rule = manifest.get("scoring", {}).get("variant_rule")
    if rule is None:
        return ("rule not recorded in this bundle: it predates AlgoPerf's rule in Podium, and used an earlier one "
                "(the variant penalty before the r_max cut, the fastest variant time over every submission)")
    return VARIANT_RULES.get(rule, f"rule {rule!r}")
