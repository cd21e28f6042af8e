"""docker/ray-cluster.yaml is a cluster config Ray accepts, and its worker nodes offer the slots the Ray executor
asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
pytest.importorskip("ray")

from harness.executors.ray import resource_for  # noqa: E402

CONFIG = Path(__file__).resolve().parents[2] / "docker" / "ray-cluster.yaml"


def test_the_cluster_config_validates_against_rays_schema() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load(CONFIG.read_text())
    validate_config(prepare_config(config))  # raises on a key Ray does not know or a missing one
    types = config["available_node_types"]
    assert resource_for("cpu-2core") not in types[config["head_node_type"]]["resources"]  # the driver's node
    workers = [t for name, t in types.items() if name != config["head_node_type"]]
    assert workers and all(t["resources"].get(resource_for("cpu-2core")) == 1 for t in workers)  # one trial each
    assert all(t["resources"]["CPU"] >= 2 for t in workers)  # the class's two threads


def test_a_config_with_an_unknown_key_is_refused() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load(CONFIG.read_text())
    config["available_node_types"]["cpu-2core"]["resourcez"] = {}
    with pytest.raises(Exception, match="resourcez|Additional properties"):
        validate_config(prepare_config(config))
