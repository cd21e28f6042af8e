"""Podium's harness: contracts, submission loading, the trial runner, tuning, the results store and the CLI.

The harness is track-agnostic: a track contributes a contract file under :mod:`harness.tracks`, and everything
else (runner, store, CLI) works in terms of trial requests and trial records.
"""

__version__ = "0.1.0"
