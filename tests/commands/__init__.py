"""Tests of the commands' own logic."""


def afuse_exit_code(command: str, *args: str) -> int:
    """`afuse <command> <args>` in this process; its exit code."""
    from afuse.cli import main as afuse_main

    try:
        afuse_main([command, *args])
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0
