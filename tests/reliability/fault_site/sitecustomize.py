"""Python imports this at start-up when this folder is on PYTHONPATH (the reliability tests'
child processes, and the processes they start): it registers $AFUSE_TEST_FAULT's fault."""

import os

if os.environ.get("AFUSE_TEST_FAULT"):
    from tests.reliability.faults import install_from_env

    try:
        install_from_env()
    except ValueError as error:  # site.py would only warn about an Exception and go on without it
        raise SystemExit(f"sitecustomize: {error}") from None
