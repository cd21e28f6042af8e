"""Release secrets: a release commits to its held-out variant draw before submissions close and reveals it on publishing.

The public draw (:func:`harness.scoring.choose_scoring_variants` without a secret) hashes only public names (the
release and the variants), so anyone can compute which variants a release will score before submissions close and
tune for them. A release with a secret draws with a hash keyed by the secret instead, in four steps (commit-reveal):

1. **Commit** (the organiser, before submissions close): ``podium release commit RELEASE`` makes a random 32-byte
   secret (``secrets.token_hex(32)``) and keeps it in a file only its owner can read (mode 0600; default
   ``$PODIUM_CONFIG_DIR/releases/RELEASE.secret``, ``~/.config/podium/releases/`` when unset). It refuses to replace
   an existing secret unless ``--force``. It writes the release plan (:class:`ReleasePlan`; default
   ``<db folder>/manifests/release-plan-RELEASE.json``, beside the runs' plans): the commitment
   ``sha256(RELEASE + ":" + secret)`` (hex), the variants per base and the candidate variants of every base workload.
   The organiser publishes the plan; the commitment tells nothing about the secret, and so nothing about the draw.
2. **Draw** (the scoring runs): ``podium run SUBMISSION --suite lite --release-secret FILE`` (and ``podium demo
   --release-secret FILE``) score the variants drawn with blake2b keyed by the secret
   (:func:`harness.tuning.seeds.derive_keyed_seed`): nobody can compute them without the secret.
3. **Reveal**: ``podium publish --release-secret FILE`` writes the secret, its commitment, the candidates and the
   drawn variants into the bundle's manifest (``scoring.variant_draw``, :func:`draw_record`), after checking that
   the runs scored exactly the drawn variants and that the secret matches the release plan when there is one.
4. **Verify** (anyone): ``podium publish --verify BUNDLE --release-plan PLAN`` checks that
   ``sha256(release:secret)`` is the commitment, that the commitment and the candidates are those of the plan
   published before submissions closed, and that re-drawing with the revealed secret gives exactly the variants the
   bundle scored (:func:`draw_problems`).

Without a secret the draw is the public one, as before; the bundle records it as predictable
(``variant_draw.predictable``) and ``podium publish`` and its ``--verify`` warn (:func:`draw_warnings`).

The secret lives under a config folder, not under ``$PODIUM_CACHE_DIR``: a cache may be wiped (a lost secret can
never be revealed, so the release could not be verified), and folders of the cache are mounted into trial containers.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import harness
from harness.scoring import choose_scoring_variants

SECRET_BYTES = 32
#: Held-out variants scored per base workload (``workloads.scored_workloads``' default; no command changes it).
VARIANTS_PER_BASE = 1
CONFIG_ENV = "PODIUM_CONFIG_DIR"
DEFAULT_CONFIG_ROOT = "~/.config/podium"


class ReleaseError(RuntimeError):
    """A secret or release plan cannot be written or read as asked; the message says why and what to do."""


class ReleasePlan(BaseModel):
    """What a release publishes before submissions close: its commitment to the secret that draws its variants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    release: str
    commitment: str = Field(pattern=r"^[0-9a-f]{64}$")  # sha256(release + ":" + secret), hex
    per_base: int = Field(VARIANTS_PER_BASE, ge=0)
    candidates: dict[str, list[str]]  # base workload -> the variants the draw chooses from
    created_at: str
    harness_version: str


def commitment(release: str, secret: str) -> str:
    """``sha256(release + ":" + secret)`` in hex: binds the secret to one release without revealing it.

    >>> commitment("2026.11", "00" * 32)[:16]
    'e7159d97f5726524'
    """
    return hashlib.sha256(f"{release}:{secret}".encode()).hexdigest()


def _checked_release(release: str) -> str:
    if not release or release.startswith(".") or any(c in release for c in "/\\:\0"):
        raise ReleaseError(f"release name {release!r} cannot name a file (no '/', '\\', ':' or leading '.')")
    return release


def config_root() -> Path:
    """``$PODIUM_CONFIG_DIR`` (default ``~/.config/podium``): what only the organiser keeps."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_ROOT).expanduser()


def default_secret_path(release: str) -> Path:
    return config_root() / "releases" / f"{_checked_release(release)}.secret"


def default_plan_path(db: Path, release: str) -> Path:
    """``<db folder>/manifests/release-plan-RELEASE.json``: beside the runs' plans (``harness.runner.run``)."""
    return db.parent / "manifests" / f"release-plan-{_checked_release(release)}.json"


def candidates_of(variant_of: Mapping[str, str], bases: Sequence[str] | None = None) -> dict[str, list[str]]:
    """``base -> its variants`` (sorted) from ``variant -> base``; only ``bases`` when given, and only bases that
    have variants.

    >>> candidates_of({"w_b": "w", "w_a": "w", "x_1": "x"}, ["w", "y"])
    {'w': ['w_a', 'w_b']}
    """
    found: dict[str, list[str]] = {}
    for variant, base in sorted(variant_of.items()):
        if bases is None or base in bases:
            found.setdefault(base, []).append(variant)
    return dict(sorted(found.items()))


def write_secret(path: Path, force: bool = False) -> str:
    """A new random secret, written to ``path`` with mode 0600 (its folder 0700 when made); returns it.

    Raises:
        ReleaseError: ``path`` exists and not ``force`` (a second secret would break the first one's commitment).
    """
    if path.exists() and not force:
        raise ReleaseError(f"{path} already holds a release secret; a new one would not match the commitment "
                           "already published. Keep it, or pass --force to replace it (and publish the new plan)")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_hex(SECRET_BYTES)
    path.unlink(missing_ok=True)  # O_EXCL below: the file is never, even briefly, readable by others
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret


def read_secret(path: Path) -> str:
    """The secret in ``path`` (hex). Raises :class:`ReleaseError` when missing or not a secret."""
    try:
        secret = path.read_text().strip()
    except OSError as exc:
        raise ReleaseError(f"cannot read the release secret {path}: {exc.strerror}") from None
    try:
        if len(bytes.fromhex(secret)) != SECRET_BYTES:
            raise ValueError
    except ValueError:
        raise ReleaseError(f"{path} is not a release secret ({2 * SECRET_BYTES} hex digits, as `podium release "
                           "commit` writes)") from None
    return secret


def read_plan(path: Path) -> ReleasePlan:
    """The release plan in ``path``. Raises :class:`ReleaseError` when missing or malformed."""
    try:
        return ReleasePlan.model_validate_json(path.read_text())
    except OSError as exc:
        raise ReleaseError(f"cannot read the release plan {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ReleaseError(f"{path} is not a release plan: {exc}") from None


def commit_release(release: str, secret_path: Path, plan_path: Path, variant_of: Mapping[str, str],
                   force: bool = False) -> ReleasePlan:
    """Step 1: a new secret in ``secret_path`` (0600) and the plan with its commitment in ``plan_path``."""
    _checked_release(release)
    secret = write_secret(secret_path, force)
    plan = ReleasePlan(release=release, commitment=commitment(release, secret), per_base=VARIANTS_PER_BASE,
                       candidates=candidates_of(variant_of), harness_version=harness.__version__,
                       created_at=datetime.now(UTC).isoformat(timespec="seconds"))
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    plan_path.write_text(plan.model_dump_json(indent=1) + "\n")
    return plan


def scored_workloads(suite: str, release: str, secret: str | None = None, per_base: int = VARIANTS_PER_BASE,
                     track: str = "training") -> tuple[str, ...]:
    """A suite's base workloads and the variants scored in ``release``, the draw keyed by ``secret`` when one is
    given (step 2): :func:`workloads.scored_workloads`."""
    import workloads

    return workloads.scored_workloads(suite, release, per_base, track, secret)


def draw_record(release: str, candidates: Mapping[str, list[str]], secret: str | None,
                per_base: int = VARIANTS_PER_BASE) -> dict[str, Any]:
    """The manifest's ``scoring.variant_draw`` (step 3): the revealed secret and its commitment (both null for the
    public draw, then ``predictable``), the candidates and the variants the draw gives."""
    return {"predictable": secret is None, "secret": secret,
            "commitment": commitment(release, secret) if secret is not None else None, "per_base": per_base,
            "candidates": dict(candidates), "drawn": choose_scoring_variants(candidates, release, per_base, secret)}


def scored_variants(pools: Sequence[Any]) -> dict[str, dict[str, list[str]]]:
    """``pool key -> base -> the variants its trials scored``, from :class:`harness.report.Pool` objects; every base
    of a pool is listed, ``[]`` when none of its variants ran."""
    return {p.key: {b: sorted(v for v in p.variants if p.variant_of[v] == b) for b in p.base_workloads}
            for p in pools}


def _scored_problems(drawn: Mapping[str, list[str]], scored: Mapping[str, Mapping[str, list[str]]]) -> list[str]:
    return [f"variant draw: pool {key} scored {', '.join(got) or 'no variant'} of {base}, but the secret draws "
            f"{', '.join(drawn[base]) or 'none'}"
            for key, per_base in scored.items() for base, got in per_base.items()
            if base in drawn and sorted(got) != sorted(drawn[base])]


def draw_problems(release: str, record: Mapping[str, Any] | None, scored: Mapping[str, Mapping[str, list[str]]],
                  variant_of: Mapping[str, str], plan: ReleasePlan | None = None) -> list[str]:
    """Everything wrong with a bundle's variant draw (step 4); empty when it verifies.

    Args:
        release: the bundle's release.
        record: its ``scoring.variant_draw`` (None for a bundle written before draws were recorded).
        scored: the variants its trials scored, :func:`scored_variants`.
        variant_of: ``variant -> base`` of the registered variants: the candidates the draw must have used.
        plan: the release plan published before submissions closed, when the verifier has it.
    """
    secret = (record or {}).get("secret")
    if secret is None:
        return [f"variant draw: the release plan commits to a secret ({plan.commitment[:16]}...), but the bundle "
                "reveals none"] if plan is not None else []
    missing = sorted({"commitment", "per_base", "candidates", "drawn"} - set(record or {}))
    if missing:
        return [f"variant draw: the manifest reveals a secret but has no {', '.join(missing)}"]
    problems = []
    actual = commitment(release, secret)
    if actual != record["commitment"]:
        problems.append(f"variant draw: sha256(release:secret) of the revealed secret is {actual}, but the "
                        f"manifest commits to {record['commitment']}: the secret is not the committed one")
    if plan is not None and (plan.release, plan.commitment) != (release, record["commitment"]):
        problems.append(f"variant draw: the release plan commits release {plan.release!r} to {plan.commitment}, "
                        f"the bundle release {release!r} to {record['commitment']}")
    candidates = record["candidates"]
    bases = sorted(set(candidates) | {b for per_base in scored.values() for b in per_base})
    # The candidates are fixed before submissions close (the plan lists them): a publisher who could drop some
    # after seeing the secret could steer the draw.
    source = {v: b for b, vs in plan.candidates.items() for v in vs} if plan is not None else variant_of
    expected = candidates_of(source, bases)
    for base in bases:
        if sorted(candidates.get(base, [])) != sorted(expected.get(base, [])):
            problems.append(f"variant draw: the candidates of {base} are {candidates.get(base, [])}, but "
                            f"{'the release plan' if plan is not None else 'the workload registry'} lists "
                            f"{expected.get(base, [])}")
    drawn = choose_scoring_variants(candidates, release, int(record["per_base"]), secret)
    if drawn != record["drawn"]:
        problems.append(f"variant draw: the manifest lists {record['drawn']} as drawn, the revealed secret draws "
                        f"{drawn}")
    return problems + _scored_problems(drawn, scored)


def draw_warnings(record: Mapping[str, Any] | None) -> list[str]:
    """Why a bundle's held-out variants could be known in advance (empty for a committed, revealed draw)."""
    if record is not None and record.get("secret") is not None:
        return []
    return ["held-out variants were drawn from the public release name (no release secret was committed): anyone "
            "could compute them before submissions closed"]
