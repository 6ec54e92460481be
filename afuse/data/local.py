"""Read a task's original files from `data.raw_dir/<local.folder>/` (data.source=local).

The task config's `local:` section names the files of each split and their format:

    local:
      folder: RTE
      origin: SuperGLUE RTE, https://super.gluebenchmark.com/tasks
      format: jsonl                         # default for every file below
      fields: {id: idx, text_a: premise, text_b: hypothesis, label: label}
      files:                                # our split -> file (or a mapping with options)
        train: superglue/train.jsonl
        test: superglue/val.jsonl           # the official dev set is our test set
      carve: {}                             # how splits missing here are carved (see splits.py)

A file entry may be a mapping: `path` (a glob matches several files), `format`, `fields`,
`columns` (headerless TSV), `labels_file` (one label per line), `where: {column: value}` (keep
matching rows: one file holding several splits) and `ids_in` / `ids_not_in` (keep rows whose
`id_columns` are / are not listed in an id file: MRPC's dev_ids.tsv). Each file is parsed once
even when several splits select from it, so its malformed rows are counted once.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from afuse.config import task_file_shown
from afuse.data.normalize import Normalizer, RowProblem, plain
from afuse.data.readers import READERS, RawRecord, read_labels_file, with_labels
from afuse.data.readers.base import open_text, undecodable_as_bad
from afuse.data.schema import to_frame
from afuse.data.source_read import SourceRead, sha256_file
from afuse.errors import ConfigError, MissingInputError

log = logging.getLogger(__name__)

GLOB_CHARS = "*?["


@dataclass(frozen=True)
class FileSpec:
    """One split's file entry of a task's `local.files`, with the source-level defaults filled in."""

    path: str
    format: str
    fields: dict
    columns: tuple[str, ...] | None = None
    labels_file: str | None = None
    where: tuple[tuple[str, str], ...] = ()
    ids_in: str | None = None
    ids_not_in: str | None = None

    @classmethod
    def from_config(cls, entry, local: DictConfig) -> "FileSpec":
        entry = {"path": entry} if isinstance(entry, str) else dict(entry)
        spec_format = entry.get("format", local.get("format"))
        if spec_format not in READERS:
            raise ConfigError(f"local format {spec_format!r} is unknown; known formats: {', '.join(READERS)}")
        columns = entry.get("columns", local.get("columns"))
        return cls(
            path=str(entry["path"]),
            format=spec_format,
            fields=entry.get("fields") or plain(local.fields),
            columns=tuple(columns) if columns else None,
            labels_file=entry.get("labels_file"),
            where=tuple((str(k), str(v)) for k, v in (entry.get("where") or {}).items()),
            ids_in=entry.get("ids_in"),
            ids_not_in=entry.get("ids_not_in"),
        )

    def parse_key(self, path: Path) -> tuple:
        """Entries with the same key parse `path` the same way: parse it once, select per split."""
        return (path, self.format, self.columns, self.labels_file)


class LocalReader:
    """Reads every split file of one task, keeping the files' checksums and malformed rows."""

    def __init__(self, task_cfg: DictConfig, raw_dir: str | Path):
        self.task = task_cfg
        self.local = task_cfg.local
        self.task_dir = Path(raw_dir).expanduser().resolve() / self.local.folder
        self.normalizer = Normalizer(task_cfg, self.local)
        self.parsed: dict[tuple, list[RawRecord]] = {}
        self.result = SourceRead(splits={}, origins={}, notes=list(self.local.get("notes") or []))
        self.hashed: set[Path] = set()

    def read(self) -> SourceRead:
        if not self.task_dir.is_dir():
            raise self._missing_folder()
        for split, entry in self.local.files.items():
            spec = FileSpec.from_config(plain(entry), self.local)
            paths = self._resolve(spec.path, f"local.files.{split}")
            rows = [row for path in paths for row in self._split_rows(path, spec)]
            self.result.splits[split] = to_frame(rows)
            self.result.origins[split] = self._origin(spec, paths)
        return self.result

    # -- files -----------------------------------------------------------------------------------

    def _resolve(self, pattern: str, key: str) -> list[Path]:
        if any(char in pattern for char in GLOB_CHARS):
            paths = sorted(self.task_dir.glob(pattern))
            if not paths:
                raise self._missing(self.task_dir / pattern, f"{key} (no file matches)")
        else:
            paths = [self.task_dir / pattern]
            if not paths[0].is_file():
                raise self._missing(paths[0], key)
        for path in paths:
            self._hash(path)
        return paths

    def _hash(self, path: Path) -> None:
        if path not in self.hashed:
            self.hashed.add(path)
            self.result.source_files.append(
                {"path": self._recorded(path), "sha256": sha256_file(path), "bytes": path.stat().st_size}
            )

    def _missing(self, path: Path, what: str) -> MissingInputError:
        return MissingInputError(
            f"task {self.task.name}: missing raw file {path} ({what} in {task_file_shown(self.task.name)}). "
            f"It comes from: {self.local.origin}. Put the original files under {self.task_dir}/ "
            f"or {self._point_elsewhere()}"
        )

    def _missing_folder(self) -> MissingInputError:
        expected = sorted(
            {str(entry if isinstance(entry, str) else entry.path) for entry in self.local.files.values()}
        )
        return MissingInputError(
            f"task {self.task.name}: missing raw data folder {self.task_dir} (expected in it: {', '.join(expected)}). "
            f"It comes from: {self.local.origin}. Put the original files there or {self._point_elsewhere()}"
        )

    def _point_elsewhere(self) -> str:
        """How to name where the files are instead: data.raw_dir does not move an absolute folder."""
        if Path(self.local.folder).is_absolute():
            return f"set local.folder in {task_file_shown(self.task.name)} to the folder that holds them"
        return "set data.raw_dir=<dir> to the folder that holds them"

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self.task_dir.parent))

    def _recorded(self, path: Path) -> str:
        """The file as the manifest records it, to be found again (afuse.data.prepare): under
        data.raw_dir, or where an absolute local.folder puts it, whatever data.raw_dir is then."""
        return str(path) if Path(self.local.folder).is_absolute() else self._relative(path)

    def _origin(self, spec: FileSpec, paths: list[Path]) -> str:
        names = ", ".join(self._relative(p) for p in paths)
        selection = [f"{k}={v}" for k, v in spec.where]
        selection += [f"ids in {spec.ids_in}"] if spec.ids_in else []
        selection += [f"ids not in {spec.ids_not_in}"] if spec.ids_not_in else []
        return names + (f" ({'; '.join(selection)})" if selection else "")

    # -- rows ------------------------------------------------------------------------------------

    def _parse(self, path: Path, spec: FileSpec) -> list[RawRecord]:
        key = spec.parse_key(path)
        if key not in self.parsed:
            records = [
                undecodable_as_bad(record)
                for record in READERS[spec.format](path, list(spec.columns) if spec.columns else None)
            ]
            if spec.labels_file:
                labels_path = self._resolve(spec.labels_file, "labels_file")[0]
                records = with_labels(
                    records, read_labels_file(labels_path), spec.fields["label"], labels_path
                )
            self.result.malformed.seen(self._relative(path), len(records))
            for record in records:
                if record.problem:
                    self.result.malformed.add(self._relative(path), record.position, record.problem)
            self.parsed[key] = records
        return self.parsed[key]

    def _split_rows(self, path: Path, spec: FileSpec) -> list[dict]:
        keep = self._id_filter(spec)
        tag = self._relative(path).removeprefix(f"{self.local.folder}/")
        rows = []
        for record in self._parse(path, spec):
            if record.problem or not keep(record.fields):
                continue
            try:
                row = self.normalizer.row(record.fields, spec.fields)
            except RowProblem as problem:
                self.result.malformed.add(self._relative(path), record.position, str(problem))
                continue
            row["id"] = f"{tag}:{row['id'] or record.position}"
            rows.append(row)
        return rows

    def _id_filter(self, spec: FileSpec):
        where = dict(spec.where)
        id_columns = list(self.local.get("id_columns") or [])
        listed = None
        if spec.ids_in or spec.ids_not_in:
            if not id_columns:
                raise ConfigError(f"task {self.task.name}: ids_in/ids_not_in need local.id_columns")
            listed = self._read_ids(spec.ids_in or spec.ids_not_in)

        def keep(fields: dict) -> bool:
            if any(str(fields.get(column, "")).strip() != value for column, value in where.items()):
                return False
            if listed is None:
                return True
            return (tuple(str(fields.get(c, "")).strip() for c in id_columns) in listed) == bool(spec.ids_in)

        return keep

    def _read_ids(self, name: str) -> set[tuple[str, ...]]:
        path = self._resolve(name, "id list")[0]
        with open_text(path) as handle:
            return {tuple(part.strip() for part in line.split("\t")) for line in handle if line.strip()}


def read_local(task_cfg: DictConfig, raw_dir: str | Path | None) -> SourceRead:
    if not task_cfg.get("local"):
        raise ConfigError(
            f"task {task_cfg.name} has no local files (no local: in {task_file_shown(task_cfg.name)}): "
            "read it from the Hugging Face Hub with data.source=hub, or add a local: section naming its files"
        )
    if not raw_dir and not Path(task_cfg.local.folder).is_absolute():
        raise ConfigError(
            f"task {task_cfg.name}: data.source=local needs data.raw_dir=<dir>, the folder holding "
            f"{task_cfg.local.folder}/ (e.g. data.raw_dir=../shared/data)"
        )
    return LocalReader(task_cfg, raw_dir or "/").read()  # an absolute folder ignores raw_dir
