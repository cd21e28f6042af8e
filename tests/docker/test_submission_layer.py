"""A submission's requirements.txt: resolved at build time into its own image layer; nothing installs during a trial."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.executors import ExecutorError, runner_for
from harness.executors.container import LABEL_REQUIREMENTS, requirements_hash
from harness.executors.images import BuildConfig, build_submission_image
from harness.runner.run import RunConfig, execute

pytestmark = pytest.mark.docker
SUBMISSION = Path(__file__).resolve().parent / "fixtures" / "with_requirements"


def test_requirements_are_installed_in_the_submissions_own_layer(docker_client: Any, scoring_image: Any,
                                                                tmp_path: Path) -> None:
    with pytest.raises(ExecutorError, match="podium docker build --submission"):
        runner_for("docker", scoring_image.image.name, SUBMISSION)  # the scoring image lacks einops: refused up front

    built = build_submission_image(docker_client, BuildConfig(submission=SUBMISSION), scoring_image.image,
                                   say=lambda line: None)
    try:
        assert built.image.labels[LABEL_REQUIREMENTS] == requirements_hash(SUBMISSION)
        assert built.image.labels["org.podium.scoring-image"] == scoring_image.image.id
        config = RunConfig(submission_dir=SUBMISSION, workloads=("digits_mlp",), scoring_seeds=0, db=tmp_path / "r.db",
                           executor="docker", image=built.image.name)
        run_id, store = execute(config)
        [trial] = store.trials(run_id)
        assert trial["status"] in ("reached", "missed"), trial["reason"]
        assert trial["image_digest"] == built.image.id
        assert json.loads(trial["provenance_json"])["image"] == built.image.name
    finally:
        docker_client.images.remove(built.image.id, force=True)
