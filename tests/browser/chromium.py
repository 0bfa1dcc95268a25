"""How the browser tests (and the README screenshot) launch Chromium. No Django here, so scripts can import it."""

import os
import re
import shutil

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers often have a 64 MB /dev/shm, too small for Chromium's shared memory
    # No connection attempts to the outside (update checks, sync, field trials, QUIC probes).
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORT = {"width": 1366, "height": 768}
# The sign-in button, whatever the theme calls it.
LOG_IN = re.compile(r"^(log in|sign in)$", re.I)


def chromium_path() -> str | None:
    """Debian's Chromium (package ``chromium``), never a browser downloaded by ``playwright install``."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
