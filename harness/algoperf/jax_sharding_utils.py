"""AlgoPerf's ``jax_sharding_utils``: the shardings its JAX submissions put their arrays under, over one mesh axis
``batch`` of every device this process sees. Written from AlgoPerf's documented behaviour (same names, same
results); on a one-device CPU machine every sharding is the trivial one.

>>> import jax.numpy as jnp
>>> replicate({"w": jnp.ones(2)})["w"].sharding.is_fully_replicated
True
"""

from __future__ import annotations

from typing import Any


def _mesh() -> Any:
    import jax

    return jax.sharding.Mesh(jax.devices(), ("batch",))


def get_replicate_sharding() -> Any:
    """A sharding that replicates an array on every device."""
    from jax.sharding import NamedSharding, PartitionSpec

    return NamedSharding(_mesh(), PartitionSpec())


def get_batch_dim_sharding() -> Any:
    """A sharding that splits an array's first axis over the devices."""
    from jax.sharding import NamedSharding, PartitionSpec

    return NamedSharding(_mesh(), PartitionSpec("batch"))


def shard_along_batch_dim(x: Any) -> Any:
    """Every array of the pytree ``x`` split along its first axis over the devices."""
    import jax

    sharding = get_batch_dim_sharding()
    return jax.tree.map(lambda a: jax.device_put(a, sharding), x)


def replicate(x: Any) -> Any:
    """Every array of the pytree ``x`` replicated on every device."""
    import jax

    sharding = get_replicate_sharding()
    return jax.tree.map(lambda a: jax.device_put(a, sharding), x)


def display_shard_info(x: Any) -> None:
    """Print where each shard of the array ``x`` lives."""
    for shard in x.addressable_shards:
        print(f"shard.device: {shard.device}, index: {shard.index}, replica_id: {shard.replica_id}.\n")
