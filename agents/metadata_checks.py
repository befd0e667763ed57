"""Type checks of a model folder's metadata.json fields, each error naming the file and the field.

:func:`check_metadata_fields` runs on the parsed file where it is read, so that a hand-edited
``"obs_dim": "abc"`` is refused with the file and the field named, not as a bare ``int()`` error
deep inside loading.
"""

from __future__ import annotations

import numbers
from pathlib import Path

MODES = ("3dof", "6dof")
DIMENSION_FIELDS = ("obs_dim", "act_dim")


def check_metadata_fields(meta: dict, meta_path: str | Path) -> dict:
    """``meta`` unchanged if obs_dim and act_dim are positive integers and mode is a known mode
    (those present); a ModelFolderError naming ``meta_path`` and the field otherwise."""
    from agents.model_folder import ModelFolderError  # imported here: model_folder imports this module

    for key in DIMENSION_FIELDS:
        if key not in meta:
            continue
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ModelFolderError(f"{meta_path}: field {key} must be a positive integer, got {value!r}")
    if "mode" in meta and meta["mode"] not in MODES:
        raise ModelFolderError(f"{meta_path}: field mode must be one of {list(MODES)}, got {meta['mode']!r}")
    return meta
