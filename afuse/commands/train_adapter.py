"""`afuse train-adapter`: not built yet."""

from omegaconf import DictConfig

from afuse.errors import AfuseError


def main(cfg: DictConfig) -> None:
    raise AfuseError("'afuse train-adapter' is not available yet in this version of afuse.")
