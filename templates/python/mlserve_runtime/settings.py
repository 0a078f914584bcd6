"""The rendered config (mlserve.json) and the process environment the runtime prepares."""
from __future__ import annotations

import json
import os
import tempfile

CONFIG_FILE = "mlserve.json"
MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit, applied on every path.

# Caches that libraries write to; Lambda's filesystem is read-only outside /tmp.
CACHE_VARS = ("XDG_CACHE_HOME", "TORCH_HOME", "HF_HOME", "MPLCONFIGDIR", "NUMBA_CACHE_DIR", "KERAS_HOME", "JOBLIB_TEMP_FOLDER")


def load_settings(bundle_dir: str) -> dict:
    with open(os.path.join(bundle_dir, CONFIG_FILE), encoding="utf-8") as f:
        return json.load(f)


def tmp_root() -> str:
    """Where the runtime may write: $MLSERVE_TMP (set per local worker), else the system temp dir."""
    return os.environ.get("MLSERVE_TMP") or tempfile.gettempdir()


def point_caches_at_tmp() -> None:
    """Send every library cache (and HOME if it is not writable) under the writable temp dir."""
    base = os.path.join(tmp_root(), "mlserve-cache")
    home = os.environ.get("HOME")
    if not home or not os.access(home, os.W_OK):
        os.environ["HOME"] = base
    for var in CACHE_VARS:
        current = os.environ.get(var)
        if not current or not _writable(current):
            os.environ[var] = os.path.join(base, var.lower())
    os.makedirs(base, exist_ok=True)


def _writable(path: str) -> bool:
    while path and not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return os.access(path, os.W_OK)
