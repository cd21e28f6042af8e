"""Commit-reveal of the held-out variant draw: the keyed draw, the release secret and plan, the reveal in a bundle
and its verification (harness/release.py, harness/publish.py)."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.publish import BundleError, bundle_draw_warnings, publish, verify
from harness.release import (
    ReleaseError, candidates_of, commit_release, commitment, draw_record, read_plan, read_secret, scored_workloads,
    write_secret,
)
from harness.scoring import choose_scoring_variants
from harness.store import ResultsStore

RELEASE = "r1"
SECRET = "5e" * 32
OTHER_SECRET = "a7" * 32
VARIANTS = {f"w1_{c}": "w1" for c in "abcdefgh"}  # w1's eight candidate variants; w2 has none


# --- the draw ------------------------------------------------------------------------------------------------------

def test_the_keyed_draw_is_reproducible_and_depends_on_the_secret() -> None:
    candidates = {"w": [f"w_{i}" for i in range(8)], "x": ["x_1", "x_2"]}
    one = choose_scoring_variants(candidates, "2026.11", secret=SECRET)
    assert one == choose_scoring_variants({"x": ["x_2", "x_1"], "w": candidates["w"][::-1]}, "2026.11", secret=SECRET)
    assert choose_scoring_variants(candidates, "2026.11", k=2, secret=SECRET)["w"][:1] == one["w"]
    # another secret, or no secret (the public draw), gives another draw for some release among a few
    releases = [f"r{i}" for i in range(10)]
    draw = {r: choose_scoring_variants(candidates, r, secret=SECRET)["w"] for r in releases}
    assert any(choose_scoring_variants(candidates, r, secret=OTHER_SECRET)["w"] != draw[r] for r in releases)
    assert any(choose_scoring_variants(candidates, r)["w"] != draw[r] for r in releases)
    with pytest.raises(ValueError, match="hex"):
        choose_scoring_variants(candidates, "2026.11", secret="not a secret")


def test_without_a_secret_the_suite_draw_is_the_public_one() -> None:
    import workloads

    for track in workloads.TRACKS:
        assert scored_workloads("lite", "2026.11", track=track) == workloads.scored_workloads("lite", "2026.11",
                                                                                             track=track)
    keyed = scored_workloads("lite", "2026.11", SECRET)
    assert keyed[:3] == workloads.scored_workloads("lite", "2026.11")[:3]  # the bases, in suite order


def test_the_demo_draws_with_the_secret_and_keeps_it_out_of_its_printout() -> None:
    from harness.demo import demo_plan

    keyed, public = demo_plan(secret=SECRET), demo_plan()
    assert all(p.secret == SECRET and SECRET not in repr(p) for p in keyed)
    # the lite suites have one variant per base today: the draw has one outcome, with a secret or without
    assert [(p.workloads, p.label) for p in keyed] == [(p.workloads, p.label) for p in public]


# --- secret and plan -----------------------------------------------------------------------------------------------

def test_commitment_is_sha256_of_release_colon_secret() -> None:
    assert commitment(RELEASE, SECRET) == hashlib.sha256(f"{RELEASE}:{SECRET}".encode()).hexdigest()


def test_the_secret_file_is_private_and_never_overwritten_silently(tmp_path: Path) -> None:
    path = tmp_path / "releases" / "r1.secret"
    secret = write_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and read_secret(path) == secret and len(secret) == 64
    with pytest.raises(ReleaseError, match="already holds a release secret"):
        write_secret(path)
    assert read_secret(path) == secret
    assert write_secret(path, force=True) != secret and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("abc\n")
    with pytest.raises(ReleaseError, match="not a release secret"):
        read_secret(path)


def test_commit_writes_the_plan_with_the_commitment_and_candidates(tmp_path: Path) -> None:
    plan = commit_release(RELEASE, tmp_path / "s", tmp_path / "plan.json", VARIANTS)
    assert read_plan(tmp_path / "plan.json") == plan
    assert plan.commitment == commitment(RELEASE, read_secret(tmp_path / "s"))
    assert plan.candidates == {"w1": sorted(VARIANTS)} and plan.per_base == 1


def test_cli_commit_writes_a_0600_secret_and_refuses_to_overwrite(tmp_path: Path) -> None:
    args = ["release", "commit", RELEASE, "--secret", str(tmp_path / "s"), "--plan", str(tmp_path / "p.json")]
    first = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert first.exit_code == 0, first.output
    secret = read_secret(tmp_path / "s")
    assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o600
    plan = json.loads((tmp_path / "p.json").read_text())
    assert plan["commitment"] == commitment(RELEASE, secret) and plan["commitment"] in first.output
    again = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert again.exit_code == 2 and "already holds a release secret" in again.output
    assert read_secret(tmp_path / "s") == secret
    forced = CliRunner().invoke(app, [*args, "--force"])
    assert forced.exit_code == 0 and read_secret(tmp_path / "s") != secret


def test_cli_commit_defaults_to_the_config_folder_and_the_runs_manifests(tmp_path: Path) -> None:
    env = {"PODIUM_CONFIG_DIR": str(tmp_path / "config"), "COLUMNS": "300"}
    result = CliRunner().invoke(app, ["release", "commit", RELEASE, "--db", str(tmp_path / "res" / "results.db")],
                                env=env)
    assert result.exit_code == 0, result.output
    secret = tmp_path / "config" / "releases" / "r1.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    plan = read_plan(tmp_path / "res" / "manifests" / "release-plan-r1.json")
    assert plan.commitment == commitment(RELEASE, read_secret(secret))


# --- reveal and verify ---------------------------------------------------------------------------------------------

def _fill(store: ResultsStore, sub: str, times: dict[str, list[float]]) -> None:
    """One finished run of one study: scoring seeds with the given times."""
    run_id = f"{sub}-run"
    store.add_run(dict(run_id=run_id, track="training", submission_name=sub, submission_dir=f"/nonexistent/{sub}",
                       submission_hash="h", ruleset="external", hardware_class="cpu-2core", release=RELEASE,
                       harness_version="0", git_commit="c", config_json={}))
    for workload, seed_times in times.items():
        for k, t in enumerate(seed_times):
            trial_id = f"{run_id}.{workload}.{k}"
            store.start_trial(dict(trial_id=trial_id, run_id=run_id, workload=workload, workload_spec_hash="x",
                                   data_revision="d", study=0, trial_index=0, role="scoring", seed=k, seed_index=k,
                                   hyperparameters_json={}, budget_s=100.0, validation_target=0.9))
            store.finish_trial(trial_id, {"status": "reached", "time_to_result_s": t})


def _db(tmp_path: Path, variant: str) -> Path:
    store = ResultsStore(tmp_path / "r.db")
    _fill(store, "adamw", {"w1": [10, 11, 12], "w2": [20, 22, 21], variant: [5, 5, 6]})
    _fill(store, "fast", {"w1": [5, 6, 5], "w2": [40, 41, 39], variant: [4, 4, 4]})
    store.close()
    return tmp_path / "r.db"


def _drawn(secret: str | None) -> str:
    return choose_scoring_variants(candidates_of(VARIANTS), RELEASE, secret=secret)["w1"][0]


def _edit_draw(bundle: Path, **changes) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["scoring"]["variant_draw"].update(changes)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def committed(tmp_path: Path) -> tuple[Path, Path]:
    """commit -> draw -> run the drawn variant -> reveal: the bundle and the release plan."""
    plan = commit_release(RELEASE, tmp_path / "s", tmp_path / "plan.json", VARIANTS)
    secret = read_secret(tmp_path / "s")
    bundle = publish(_db(tmp_path, _drawn(secret)), tmp_path / "b", RELEASE, VARIANTS, secret=secret, plan=plan)
    return bundle, tmp_path / "plan.json"


def test_commit_draw_reveal_verify(committed: tuple[Path, Path]) -> None:
    bundle, plan_path = committed
    draw = json.loads((bundle / "manifest.json").read_text())["scoring"]["variant_draw"]
    secret = read_secret(plan_path.parent / "s")
    assert draw["secret"] == secret and draw["commitment"] == read_plan(plan_path).commitment
    assert draw["drawn"] == {"w1": [_drawn(secret)]} and not draw["predictable"]
    assert verify(bundle, VARIANTS) == [] and verify(bundle, VARIANTS, read_plan(plan_path)) == []
    assert bundle_draw_warnings(bundle) == []


def test_a_changed_secret_fails_the_commitment(committed: tuple[Path, Path]) -> None:
    bundle, plan_path = committed
    _edit_draw(bundle, secret=OTHER_SECRET)
    problems = verify(bundle, VARIANTS)
    assert any("the secret is not the committed one" in p for p in problems)
    # a forger who also changes the commitment still differs from the plan published before
    _edit_draw(bundle, commitment=commitment(RELEASE, OTHER_SECRET))
    problems = verify(bundle, VARIANTS, read_plan(plan_path))
    assert any("the release plan commits release 'r1' to" in p for p in problems)


def test_a_changed_draw_fails(committed: tuple[Path, Path]) -> None:
    bundle, _ = committed
    secret = read_secret(bundle.parent.parent / "s")
    other = next(v for v in sorted(VARIANTS) if v != _drawn(secret))
    _edit_draw(bundle, drawn={"w1": [other]})
    assert any(f"the manifest lists {{'w1': ['{other}']}} as drawn" in p for p in verify(bundle, VARIANTS))


def test_scoring_other_variants_than_the_secret_draws_fails(tmp_path: Path) -> None:
    other = next(v for v in sorted(VARIANTS) if v != _drawn(SECRET))
    db = _db(tmp_path, other)
    with pytest.raises(BundleError, match=f"scored {other} of w1, but the secret draws {_drawn(SECRET)}"):
        publish(db, tmp_path / "b", RELEASE, VARIANTS, secret=SECRET)
    bundle = publish(db, tmp_path / "b", RELEASE, VARIANTS)  # public, then the secret claimed afterwards
    _edit_draw(bundle, **draw_record(RELEASE, candidates_of(VARIANTS), SECRET))
    assert verify(bundle, VARIANTS) == [f"variant draw: pool training/external/cpu-2core/r1 scored {other} of w1, "
                                        f"but the secret draws {_drawn(SECRET)}"]


def test_dropped_candidates_fail(committed: tuple[Path, Path]) -> None:
    bundle, plan_path = committed
    _edit_draw(bundle, candidates={"w1": ["w1_a"]})
    assert any("the candidates of w1 are ['w1_a'], but the release plan lists" in p
               for p in verify(bundle, VARIANTS, read_plan(plan_path)))


def test_a_public_draw_verifies_with_a_warning_and_fails_against_a_plan(tmp_path: Path) -> None:
    bundle = publish(_db(tmp_path, _drawn(None)), tmp_path / "b", RELEASE, VARIANTS)
    draw = json.loads((bundle / "manifest.json").read_text())["scoring"]["variant_draw"]
    assert draw["predictable"] and draw["secret"] is None and draw["commitment"] is None
    assert verify(bundle, VARIANTS) == []
    assert "anyone could compute them before submissions closed" in bundle_draw_warnings(bundle)[0]
    plan = commit_release(RELEASE, tmp_path / "s", tmp_path / "plan.json", VARIANTS)
    assert "the bundle reveals none" in verify(bundle, VARIANTS, plan)[0]


def test_cli_publish_reveals_and_verify_checks_against_the_plan(tmp_path: Path) -> None:
    """The README's commands, on real workload names (the CLI takes the variants from the registry)."""
    from workloads import variant_bases

    cli = CliRunner()
    env = {"COLUMNS": "300"}
    secret_path, plan_path = tmp_path / "s", tmp_path / "plan.json"
    assert cli.invoke(app, ["release", "commit", RELEASE, "--secret", str(secret_path), "--plan",
                            str(plan_path)]).exit_code == 0
    secret = read_secret(secret_path)
    variant = next(w for w in scored_workloads("lite", RELEASE, secret) if variant_bases().get(w) == "digits_mlp")
    store = ResultsStore(tmp_path / "r.db")
    _fill(store, "adamw", {"digits_mlp": [10, 11, 12], variant: [5, 5, 6]})
    store.close()
    out = cli.invoke(app, ["publish", "--db", str(tmp_path / "r.db"), "--release", RELEASE, "--out",
                           str(tmp_path / "b"), "--release-secret", str(secret_path), "--release-plan",
                           str(plan_path)], env=env)
    assert out.exit_code == 0, out.output
    assert "predictable" not in out.output and "anyone could compute" not in out.output
    bundle = tmp_path / "b" / RELEASE
    checked = cli.invoke(app, ["publish", "--verify", str(bundle), "--release-plan", str(plan_path)], env=env)
    assert checked.exit_code == 0, checked.output
    assert "the revealed secret matches its commitment" in checked.output
    _edit_draw(bundle, secret=OTHER_SECRET)
    broken = cli.invoke(app, ["publish", "--verify", str(bundle)], env=env)
    assert broken.exit_code == 1 and "the secret is not the committed one" in broken.output


def test_cli_run_refuses_a_secret_without_a_suite(tmp_path: Path) -> None:
    write_secret(tmp_path / "s")
    result = CliRunner().invoke(app, ["run", str(tmp_path), "--workload", "digits_mlp", "--release-secret",
                                      str(tmp_path / "s")], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "use it with --suite" in result.output


def test_an_unreadable_secret_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--db", str(tmp_path / "r.db"), "--release-secret",
                                      str(tmp_path / "missing")], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "cannot read the release secret" in result.output
    assert not (tmp_path / "r.db").exists()
