"""Where the package's own files are: the source tree, and the share folder of an install.

One lookup for the default model, the parameters file and the message definitions, so none of
them can fail differently when ROS is installed but not sourced.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

PACKAGE = "emotion_node"
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the repository (or the symlink install's)


def installed_share_dir() -> Optional[Path]:
    """`share/emotion_node` found through the ament index; None without one.

    None also where ROS is installed but not sourced: the index then raises OSError
    (AMENT_PREFIX_PATH unset) instead of answering.
    """
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, ValueError, OSError):
        return None


def installed_package_dirs(name: str) -> list[Path]:
    """Folders of an installed Python package, found without importing it (the model packages'
    imports pull in heavy extras); empty when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    return [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
