"""Where afuse finds its Hydra configs, in a checkout and in an installed wheel."""

from functools import cache
from pathlib import Path


@cache
def conf_dir() -> Path:
    """The `conf/` directory: inside the package when installed from a wheel, else the checkout's."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "conf", package_dir.parent / "conf"):
        if (candidate / "task").is_dir():
            return candidate
    raise RuntimeError(
        f"afuse cannot find its configs: looked in {package_dir / 'conf'} and {package_dir.parent / 'conf'}. "
        "Reinstall afuse (`pip install .` ships them inside the package)."
    )
