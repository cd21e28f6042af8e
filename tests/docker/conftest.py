"""Fixtures for the docker executor's system tests: an engine, and the scoring image built from a local base.

Tests that need an engine carry ``@pytest.mark.docker`` (deselected by default; ``pytest -m docker tests/docker``)
and skip with the engine's own message when none is reachable. Building the image the first time needs the package
index (resolution) and deb.debian.org (the local base); later builds reuse both and take seconds.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.executors import ExecutorError

TEST_IMAGE = "podium-scoring:test"  # reuses podium-scoring:cpu's image when it was built from the same inputs


@pytest.fixture(scope="session")
def docker_client() -> Any:
    from harness.executors.engine import connect

    try:
        return connect()
    except ExecutorError as exc:
        pytest.skip(f"no Docker engine: {exc}")


@pytest.fixture(scope="session")
def scoring_image(docker_client: Any) -> Any:
    """The CPU scoring image on the locally made Debian base (``podium docker build --make-base``)."""
    from harness.executors.images import BuildConfig, build

    return build(BuildConfig(make_base=True, tag=TEST_IMAGE), say=lambda line: None)
