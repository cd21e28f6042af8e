"""Seeds derived from stable hashes, never from Python's salted ``hash()``.

A seed is a function of (release, submission, workload, role, study, index) only, so it is identical across
processes, machines and ``PYTHONHASHSEED`` values, and the roles (``tuning``, ``scoring``...) can never share a seed
by accident: the role is part of the hashed input.

:func:`derive_keyed_seed` is the same hash keyed with a secret: nobody without the secret can compute it (a keyed
blake2b is a MAC), which is what a draw that must stay unpredictable until a reveal needs.
"""

from __future__ import annotations

import hashlib

SEED_BITS = 31  # fits torch.manual_seed, numpy and a signed 32-bit int everywhere


def _payload(parts: tuple[object, ...]) -> bytes:
    return "\x1f".join(str(p) for p in parts).encode()


def _seed(digest: bytes) -> int:
    return int.from_bytes(digest, "big") & ((1 << SEED_BITS) - 1)


def derive_seed(*parts: object) -> int:
    """blake2b of the parts joined by a separator that cannot occur in them, truncated to 31 bits.

    >>> derive_seed("2026.11", "adamw", "digits_mlp", "tuning", 0, 0)
    875994505
    """
    return _seed(hashlib.blake2b(_payload(parts), digest_size=8).digest())


def derive_keyed_seed(secret: str, *parts: object) -> int:
    """Like :func:`derive_seed`, but blake2b keyed with ``secret`` (hex, 1 to 64 bytes): unpredictable without it.

    Raises:
        ValueError: if ``secret`` is not hex or not 1 to 64 bytes long (blake2b's key limit).

    >>> derive_keyed_seed("00" * 32, "2026.11", "variant", "w", "w_a")
    1132029979
    """
    try:
        key = bytes.fromhex(secret)
    except ValueError:
        raise ValueError("a secret must be hex digits (e.g. from secrets.token_hex(32))") from None
    if not 1 <= len(key) <= hashlib.blake2b.MAX_KEY_SIZE:
        raise ValueError(f"a secret must be 1 to {hashlib.blake2b.MAX_KEY_SIZE} bytes, got {len(key)}")
    return _seed(hashlib.blake2b(_payload(parts), digest_size=8, key=key).digest())
