"""What the deployment files (compose, Kubernetes) are checked against: the services' own settings."""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import Mapping
from pathlib import Path

from compiler.settings import CompilerSettings
from gateway.settings import GatewaySettings
from publisher.settings import PublisherSettings
from runtime.settings import CommonSettings, SettingsError, load_settings
from testrunner.settings import TestRunnerSettings

ROOT = Path(__file__).resolve().parents[2]

SETTINGS: dict[str, type[CommonSettings]] = {
    "gateway": GatewaySettings,
    "compiler": CompilerSettings,
    "test-runner": TestRunnerSettings,
    "publisher": PublisherSettings,
}
PACKAGES = {
    "gateway": "gateway",
    "compiler": "compiler",
    "test-runner": "testrunner",
    "publisher": "publisher",
}
PORTS = {"gateway": 8000, "compiler": 8101, "test-runner": 8102, "publisher": 8103}

# Read by the OpenTelemetry SDK itself, not by a settings class.
OUTSIDE_SETTINGS_PREFIXES = ("OTEL_",)


def _prefix(service: str) -> str:
    return service.upper().replace("-", "_") + "_"


def unknown_settings(service: str, env: Mapping[str, str]) -> list[str]:
    """Names in `env` that `service` does not read: neither `FIELD` nor `<SERVICE>_FIELD` of its
    settings class (a typo, another service's prefix, or a setting that does not exist yet)."""
    fields = {name.upper() for name in SETTINGS[service].model_fields}
    prefix = _prefix(service)
    unknown = []
    for key in env:
        if key.startswith(OUTSIDE_SETTINGS_PREFIXES):
            continue
        bare = key.removeprefix(prefix)
        if bare not in fields:
            unknown.append(key)
    return sorted(unknown)


def settings_error(service: str, env: Mapping[str, str]) -> str | None:
    """Why `service` would refuse to start with `env`, or None when it would accept it."""
    try:
        load_settings(SETTINGS[service], service, dict(env))
    except SettingsError as exc:
        return str(exc)
    return None


def tool(name: str) -> str:
    """A command-line tool from this environment's scripts (a dev dependency), else from PATH."""
    candidate = Path(sysconfig.get_path("scripts")) / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed (make install brings it)")
    return found
