"""Where the shipped policies are: ``models/`` of a source checkout, else the copy a wheel
installs as data files (``<prefix>/share/lunar-env/models``, pyproject.toml's ``data-files``).

Imports only the standard library, so it can be asked without numpy or the simulator.
"""

from __future__ import annotations

import site
import sys
import sysconfig
from pathlib import Path

SHIPPED_MODELS = {"3dof": "ppo_southpole_3dof", "6dof": "ppo_southpole_6dof"}
INSTALLED_MODELS_DIR = Path("share") / "lunar-env" / "models"  # under an install prefix; see pyproject.toml
CHECKOUT_MODELS_DIR = Path(__file__).resolve().parents[1] / "models"  # models/ beside the packages


def model_dirs() -> list[Path]:
    """The folders searched for shipped models, in order: the checkout's ``models/``, then the
    data folder of this interpreter's installation (a venv or the system prefix), then the user's."""
    prefixes = [sysconfig.get_paths()["data"], sys.prefix]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        prefixes.append(user_base)
    dirs = [CHECKOUT_MODELS_DIR]
    for prefix in prefixes:
        folder = Path(prefix) / INSTALLED_MODELS_DIR
        if folder not in dirs:
            dirs.append(folder)
    return dirs


def shipped_model(mode: str, search: list[Path] | None = None) -> Path | None:
    """The shipped policy folder of a mode (``3dof`` or ``6dof``), the first found in ``search``
    (default :func:`model_dirs`), or None when none is present."""
    if mode not in SHIPPED_MODELS:
        raise ValueError(f"mode must be one of {sorted(SHIPPED_MODELS)}, got {mode!r}")
    for root in model_dirs() if search is None else search:
        folder = Path(root) / SHIPPED_MODELS[mode]
        if (folder / "metadata.json").is_file():
            return folder
    return None
