"""The IMDB review tarball (aclImdb_v1.tar.gz layout): `aclImdb/{train,test}/{pos,neg}/<id>_<stars>.txt`.

Members are read straight out of the archive; nothing is extracted, so a hostile member name
(`../..`, an absolute path, a link) can do no harm. Such members inside a review folder are
reported as malformed rather than read. Everything outside the review folders (README, vocab,
URL lists, `unsup/`) is not a review and is skipped.
"""

import gzip
import re
import tarfile
import zlib
from pathlib import Path

from tqdm.auto import tqdm

from afuse.data.readers.base import RawDataError, RawRecord, RecordStream, bad

SPLITS = ("train", "test")
LABELS = ("pos", "neg")
REVIEW_FILE = re.compile(r"^(?P<id>\d+)_(?P<stars>\d+)\.txt$")


def _unsafe(name: str) -> bool:
    return name.startswith("/") or ".." in name.split("/")


def _review_folder(name: str) -> tuple[str, str, str] | None:
    """(split, label, file name) when `name` lies in a review folder `.../<split>/<label>/<file>`."""
    parts = name.split("/")  # tar member names always use "/"
    if len(parts) >= 3 and parts[-3] in SPLITS and parts[-2] in LABELS:
        return parts[-3], parts[-2], parts[-1]
    return None


def _review(
    archive: tarfile.TarFile, member: tarfile.TarInfo, split: str, label: str, file_name: str
) -> RawRecord:
    if _unsafe(member.name):
        return bad(member.name, "unsafe member name (absolute or '..'); not read")
    if not member.isfile():
        return bad(member.name, "not a regular file (link or special file); not read")
    file_match = REVIEW_FILE.match(file_name)
    if file_match is None:
        return bad(member.name, "review file name is not <id>_<stars>.txt")
    text = archive.extractfile(member).read().decode("utf-8", errors="replace")
    fields = {
        "split": split,
        "label": label,
        "text": text,
        "id": f"{split}/{label}/{file_name.removesuffix('.txt')}",
    }
    return RawRecord(member.name, fields)


def _check_complete(path: Path) -> None:
    """A gzip stream cut short: tarfile's stream mode takes a cut between two members for the
    end of the archive, and would read part of the reviews without a word."""
    with open(path, "rb") as raw:
        if raw.read(2) != b"\x1f\x8b":
            return  # not gzip-compressed: tarfile's own errors cover it
    with gzip.open(path, "rb") as stream:
        while stream.read(1 << 22):
            pass


def read_imdb_tar(path: Path) -> RecordStream:
    try:
        _check_complete(path)
        # Stream mode ("r|*"): one pass over the compressed archive, no seeking back and forth.
        with tarfile.open(path, mode="r|*") as archive:
            for member in tqdm(archive, desc=f"reading {path.name}", unit=" files", disable=None):
                folder = _review_folder(member.name)
                if folder is None:
                    continue  # README, vocab, URL lists, unsup/: not labelled reviews
                yield _review(archive, member, *folder)
    # an interrupted download, a bad copy
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise RawDataError(
            f"{path}: the archive is cut short or damaged ({exc}); download or copy it again"
        ) from None
