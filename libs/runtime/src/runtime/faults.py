"""Failpoints: named places where a test can make a process die by SIGKILL, to prove crash safety.

`STUDIO_FAILPOINTS=gateway.compile_committed` kills the process when it reaches that point. They are
honoured only when `STUDIO_ENV=test`, so a production process never reads them.
"""

from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    if os.environ.get("STUDIO_ENV") != "test":
        return
    if name in os.environ.get("STUDIO_FAILPOINTS", "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)
