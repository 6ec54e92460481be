"""Tab completion of `afuse <command> key=...` through Hydra's completion scripts.

Hydra's script completes one program: `eval "$(afuse train-adapter -sc install=bash)"` registers
it for `afuse`, and on <Tab> it runs `afuse -sc query=bash` with the line typed so far in
COMP_LINE. The command word is completed here from afuse's commands; the rest by that command's
Hydra app (its groups, options and keys), given the line from the command word on, whose first
word Hydra drops as the program's name.
"""

import os

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
