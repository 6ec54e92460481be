"""Adapters on the Hugging Face Hub by repository id, as the `adapters` library's
`load_adapter("AdapterHub/bert-base-uncased-pf-rte")` takes them: `fusion.sources=[...]` and
`afuse evaluate adapterhub=...` accept such an id where they accept an adapter directory.

    is_hub_id("AdapterHub/bert-base-uncased-pf-rte")   # True: owner/name, and no such path here
    hub_adapter_dir("AdapterHub/bert-base-uncased-pf-rte")   # its snapshot in the Hub cache

Only the adapter's and its head's files are downloaded (huggingface_hub.snapshot_download, once:
later calls read the cache, offline too). A local path always wins over an id of the same spelling.
"""

import re
from pathlib import Path

from afuse.adapterhub_files import ADAPTER_CONFIG, ADAPTER_WEIGHTS, HEAD_CONFIG, HEAD_WEIGHTS
from afuse.errors import ConfigError, MissingInputError, OfflineError
from afuse.hub_probe import hub_unreachable

ADAPTER_FILES = [ADAPTER_CONFIG, *ADAPTER_WEIGHTS, HEAD_CONFIG, *HEAD_WEIGHTS]
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


def is_hub_id(entry: str) -> bool:
    """owner/name, as the Hub spells repository ids, that is not a path on this machine."""
    return bool(HUB_ID.fullmatch(entry)) and not Path(entry).expanduser().exists()


def hub_name(repo_id: str) -> str:
    """The name a Hub adapter goes by in activations, heatmaps and the fusion's files."""
    return repo_id.split("/", 1)[1]


def hub_adapter_dir(repo_id: str, local_only: bool = False) -> Path:
    """The snapshot folder of the adapter repository `repo_id`, downloaded on first use.
    local_only: the cache only, never the network (afuse status), else MissingInputError."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    cache_only = local_only or hub_unreachable() is not None  # the cache at once, not after retries
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=ADAPTER_FILES, local_files_only=cache_only))
    except (RepositoryNotFoundError, RevisionNotFoundError):
        raise ConfigError(
            f"{repo_id!r} is neither a directory here nor an adapter repository on the Hugging Face Hub "
            "(none of that name, or a private or gated one: `hf auth login` for those)"
        ) from None
    except LocalEntryNotFoundError:
        if local_only:
            raise MissingInputError(f"{repo_id} is not in the Hugging Face cache") from None
        raise OfflineError(
            f"{repo_id!r} is not a directory here, and as a Hugging Face Hub id it cannot be downloaded "
            f"(no network, and it is not in the local cache): where there is internet, run `hf download "
            f"{repo_id} --local-dir <dir>` and give afuse <dir> instead"
        ) from None
    if not (folder / ADAPTER_CONFIG).is_file():
        raise MissingInputError(
            f"the Hub repository {repo_id} holds no adapter ({ADAPTER_CONFIG} and "
            f"{' or '.join(ADAPTER_WEIGHTS)}, as AdapterHub's adapters are saved)"
        )
    return folder
