"""Whether the Hugging Face Hub answers: one short request before a download from it.

Without it, huggingface_hub retries an endpoint that refuses connections with back-off before it
falls back to the cache or fails: a cached model then loaded in 62 s instead of 25 s, and a model
that was not cached failed after 31 s (measured with tests/fake_hub.py and an endpoint refusing
connections).
A cluster's compute nodes often have no internet and a filled cache: those runs ask once, then
read the cache.

    hub_unreachable()   # None: it answers, or HF_HUB_OFFLINE is set (nothing is asked);
                        # else why not: "https://huggingface.co unreachable: ConnectError"
"""

import functools

PROBE_TIMEOUT_S = 5.0


def hub_unreachable() -> str | None:
    from huggingface_hub import constants

    return None if constants.HF_HUB_OFFLINE else _probe(constants.ENDPOINT)


@functools.cache  # once per endpoint and process: a sweep's jobs in one process ask once
def _probe(endpoint: str) -> str | None:
    from huggingface_hub.utils import get_session

    try:  # through the session the downloads use: its proxies (HTTPS_PROXY) and certificates
        get_session().head(endpoint, timeout=PROBE_TIMEOUT_S)
    except Exception as exc:  # any transport failure (DNS, refused, timeout, proxy) means: no Hub
        return f"{endpoint} unreachable: {type(exc).__name__}"
    return None
