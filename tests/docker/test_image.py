"""The scoring image: built from a locally made base, sealed by construction, and reproducible."""

from __future__ import annotations

from typing import Any

import pytest

from harness.executors.images import LABEL_BASE_RECIPE, LOCAL_BASE, BuildConfig, build
from harness.executors.engine import find_image

pytestmark = pytest.mark.docker


def run_in(client: Any, image_id: str, *command: str) -> str:
    return client.containers.run(image_id, list(command), network_mode="none", remove=True).decode()


def test_image_builds_from_a_locally_made_base(docker_client: Any, scoring_image: Any) -> None:
    image = scoring_image.image
    base = find_image(docker_client, LOCAL_BASE)
    assert base is not None and LABEL_BASE_RECIPE in base.labels  # made by debootstrap + docker import
    assert image.labels["org.podium.base"] == f"{LOCAL_BASE}@{base.id}"
    assert image.labels["org.podium.git-commit"] and image.id.startswith("sha256:")
    assert image.user == "10001:10001"
    probe = "import os, sys, torch; print(os.getuid(), *sys.version_info[:2], torch.__version__, torch.version.cuda)"
    assert run_in(docker_client, image.id, "python", "-c", probe).split() == ["10001", "3", "11", "2.13.0+cpu", "None"]


def test_building_twice_installs_the_same_packages(docker_client: Any, scoring_image: Any) -> None:
    """A rebuild with no layer cache (same base, same wheelhouse) installs exactly the same package set."""
    before = {image.id for image in docker_client.images.list(filters={"dangling": True})}
    again = build(BuildConfig(make_base=True, tag="podium-scoring:test-rebuild", no_cache=True), say=lambda line: None)
    try:
        assert again.built and again.image.id != scoring_image.image.id
        freeze = [run_in(docker_client, i.id, "python", "-m", "pip", "freeze", "--all")
                  for i in (scoring_image.image, again.image)]
        assert freeze[0] == freeze[1]
        assert "torch==2.13.0+cpu" in freeze[0].split() and "nvidia" not in freeze[0]
    finally:  # the rebuild's image and its intermediate stage, not the cache of the image under test
        docker_client.images.remove(again.image.id, force=True)
        for image in docker_client.images.list(filters={"dangling": True}):
            if image.id not in before:
                docker_client.images.remove(image.id, force=True)
