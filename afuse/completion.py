"""Tab completion of `afuse <command> key=...` through Hydra's completion scripts.

Hydra's script completes one program: `eval "$(afuse train-adapter -sc install=bash)"` registers
it for `afuse`, and on <Tab> it runs `afuse -sc query=bash` with the line typed so far in
COMP_LINE. The command word is completed here from afuse's commands; the rest by that command's
Hydra app (its groups, options and keys), given the line from the command word on, whose first
word Hydra drops as the program's name. Hydra offers every group under conf/; the groups a
command does not read (`afuse status adapter=`, which the command refuses) are left out.
"""

import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout

from afuse.commands import COMMANDS, Command

SHELL_COMPLETION_FLAGS = ("-sc", "--shell-completion")


def command_to_complete(argv: list[str]) -> Command | None:
    """`afuse -sc query=<shell>`: the command whose keys the line needs, or None when the command
    word itself is being typed (its candidates are printed here). `afuse -sc install=bash`: any
    command's app writes the same script."""
    if not any(arg.startswith("query=") for arg in argv):
        return COMMANDS["list"]
    line = os.environ.get("COMP_LINE", "")
    words = line.split()
    if len(words) < 2 or (len(words) == 2 and not line.endswith(" ")):
        typed = words[1] if len(words) == 2 else ""
        separator = "\n" if "query=fish" in argv else " "
        print(separator.join(name for name in COMMANDS if name.startswith(typed)))
        return None
    os.environ["COMP_LINE"] = line.split(None, 1)[1]
    return COMMANDS.get(words[1])


@contextmanager
def only_groups_read(command: Command, argv: list[str]) -> Iterator[None]:
    """Around the command's Hydra app answering a query: its candidates, less `<group>=...` for a
    group of conf/ the command does not read (afuse.overrides refuses those on the command line)."""
    if not any(arg.startswith("query=") for arg in argv):
        yield
        return
    printed = io.StringIO()
    with redirect_stdout(printed):
        yield
    print(_without_unread_groups(printed.getvalue().rstrip("\n"), command.config_name))


def _without_unread_groups(candidates: str, config_name: str) -> str:
    from afuse.overrides import command_groups, group_names

    unread = group_names() - set(command_groups(config_name))
    separator = "\n" if "\n" in candidates else " "  # fish: one per line; bash and zsh: one line
    kept = [
        word
        for word in candidates.split(separator)
        if (match := re.match(r"([\w-]+)=", word)) is None or match[1] not in unread
    ]
    return separator.join(kept)
