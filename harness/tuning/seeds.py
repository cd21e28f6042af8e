"""Seeds derived from stable hashes, never from Python's salted ``hash()``.

A seed is a function of (release, submission, workload, role, study, index) only, so it is identical across
processes, machines and ``PYTHONHASHSEED`` values, and the roles (``tuning``, ``scoring``...) can never share a seed
by accident: the role is part of the hashed input.
"""

from __future__ import annotations

import hashlib

SEED_BITS = 31  # fits torch.manual_seed, numpy and a signed 32-bit int everywhere


def derive_seed(*parts: object) -> int:
    """blake2b of the parts joined by a separator that cannot occur in them, truncated to 31 bits.

    >>> derive_seed("2026.11", "adamw", "digits_mlp", "tuning", 0, 0)
    875994505
    """
    payload = "\x1f".join(str(p) for p in parts).encode()
    digest = hashlib.blake2b(payload, digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << SEED_BITS) - 1)
