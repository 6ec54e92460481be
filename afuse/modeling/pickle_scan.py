"""What a pickle would import and call, read from its opcodes without running it.

    imported_names(path)   # ["posix.system"]

Used to say what a refused `.bin` file would have run: torch's weights_only refusal names the
object only for some pickle protocols. The file is only parsed (pickletools), never unpickled.
Both torch file layouts are read: a zip archive with `*/data.pkl`, and the legacy format, a
sequence of pickles.
"""

import io
import pickletools
import zipfile
from pathlib import Path

# What torch's own files import to rebuild tensors: not worth naming.
_EXPECTED = ("torch.", "collections.OrderedDict", "_codecs.encode")
_STRINGS = {
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
    "UNICODE",
    "SHORT_BINSTRING",
    "BINSTRING",
    "STRING",
}


def imported_names(path: str | Path) -> list[str]:
    """module.name of every global the pickle(s) in `path` would load, torch's own left out."""
    names: list[str] = []
    for stream in _pickles(Path(path)):
        for name in _globals(stream):
            if not name.startswith(_EXPECTED) and name not in names:
                names.append(name)
    return names


def _pickles(path: Path) -> list[io.BytesIO]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return [io.BytesIO(archive.read(n)) for n in archive.namelist() if n.endswith("data.pkl")]
    return [io.BytesIO(path.read_bytes())]


def _globals(stream: io.BytesIO) -> list[str]:
    """Globals of every pickle in the stream (the legacy torch format holds several in a row)."""
    found: list[str] = []
    while stream.tell() < len(stream.getbuffer()):
        strings: list[str] = []  # recent string pushes: STACK_GLOBAL takes module and name from them
        memo: dict[int, str] = {}  # memoised strings, by memo index
        memo_size, pushed = 0, None  # pushed: the string the previous opcode pushed, if any
        try:
            for opcode, arg, _ in pickletools.genops(stream):
                name = opcode.name
                if name in _STRINGS:
                    pushed = arg if isinstance(arg, str) else arg.decode("latin-1")
                    strings.append(pushed)
                    continue
                if name == "MEMOIZE" or name in ("PUT", "BINPUT", "LONG_BINPUT"):
                    index = memo_size if name == "MEMOIZE" else int(arg)
                    memo_size = max(memo_size, index + 1)
                    if pushed is not None:
                        memo[index] = pushed
                elif name in ("BINGET", "LONG_BINGET", "GET") and int(arg) in memo:
                    strings.append(memo[int(arg)])
                elif name == "GLOBAL":
                    found.append(arg.replace(" ", "."))
                elif name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
                pushed = None
        except Exception:  # not a pickle (any more): the tensor data after the legacy pickles
            break
    return found
