"""deploy/observability: the Prometheus rules pass `promtool check rules` and their unit tests
(`promtool test rules`), the dashboards are well formed and their queries parse, and every metric
the rules and dashboards read is one the running services expose."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.deploy import PORTS, ROOT, tool
from tests.support.fixtures import Stack
from tests.support.promql import exposed_names, metric_names

OBSERVABILITY = ROOT / "deploy/observability"
RULE_FILES = sorted((OBSERVABILITY / "prometheus/rules").glob("*.yml"))
DASHBOARDS = sorted((OBSERVABILITY / "grafana/dashboards").glob("*.json"))
# Made by Prometheus itself, not by a service.
PROMETHEUS_OWN = {"up"}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *map(str, args)], capture_output=True, text=True, check=False
    )


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def dashboard_queries() -> list[tuple[str, str]]:
    """(dashboard file, expression) for every query of every panel."""
    found: list[tuple[str, str]] = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            found.extend((path.name, target["expr"]) for target in panel.get("targets", []))
    return found


def recorded() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def used_metric_names() -> dict[str, set[str]]:
    """Each series name the rules and dashboards read (recording rules excluded), with its users."""
    users: dict[str, set[str]] = {}
    sources = [(rule.get("record") or rule["alert"], rule["expr"]) for rule in rules()]
    for where, expr in [*sources, *dashboard_queries()]:
        for name in metric_names(expr) - recorded():
            users.setdefault(name, set()).add(where)
    return users


def test_the_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_FILES)


def test_the_alerts_fire_as_their_unit_tests_say() -> None:
    result = promtool("test", "rules", OBSERVABILITY / "prometheus/tests/alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerts_the_operators_need_are_there() -> None:
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert {
        "ApiErrorBudgetBurnFast",
        "ApiErrorBudgetBurnSlow",
        "CompileLatencyBudgetBurnFast",
        "CompileLatencyBudgetBurnSlow",
        "ConsumerLagGrowing",
        "MessagesDeadLettered",
        "DeadLetterStreamGrew",
        "AiCircuitBreakerOpen",
        "OutboxNotDraining",
        "ServiceNotReady",
        "ServiceDown",
    } <= set(alerts)
    for name, alert in alerts.items():
        assert alert["labels"]["severity"] in {"page", "ticket"}, name
        assert alert["annotations"]["summary"], name


def test_every_recorded_series_read_is_recorded_somewhere() -> None:
    read = {
        name
        for _, expr in [*((r.get("record", ""), r["expr"]) for r in rules()), *dashboard_queries()]
        for name in metric_names(expr)
        if ":" in name
    }
    assert read - recorded() == set()


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    # promtool has no query checker of its own: each query becomes a recording rule to check.
    queries = [expr for _, expr in dashboard_queries()]
    check = tmp_path / "dashboard_queries.yml"
    check.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "dashboard-queries",
                        "rules": [
                            {"record": f"dashboard:query_{i}", "expr": e}
                            for i, e in enumerate(queries)
                        ],
                    }
                ]
            }
        )
    )
    result = promtool("check", "rules", check)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(queries) > 40


def test_the_dashboards_are_provisioned_from_files_with_the_provisioned_datasource() -> None:
    provisioning = OBSERVABILITY / "grafana/provisioning"
    [source] = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    [provider] = yaml.safe_load((provisioning / "dashboards/agent-studio.yml").read_text())[
        "providers"
    ]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    assert (
        f"./deploy/observability/grafana/dashboards:{provider['options']['path']}:ro"
        in (compose["volumes"])
    )
    assert {path.stem for path in DASHBOARDS} == {"overview", "message-flow", "ai-provider"}
    uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        uids.add(dashboard["uid"])
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == source["uid"], (path.name, panel["title"])
                assert panel["targets"], (path.name, panel["title"])
    assert len(uids) == len(DASHBOARDS)


def test_prometheus_scrapes_each_service_on_its_port_under_its_name() -> None:
    config = yaml.safe_load((OBSERVABILITY / "prometheus/prometheus.yml").read_text())
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert jobs == {service: [f"{service}:{port}"] for service, port in PORTS.items()}


def test_the_metric_name_reader_sees_through_promql() -> None:
    expr = (
        'sum by (le, route) (rate(http_request_duration_seconds_bucket{job="gateway",le="2.0"}[5m]))'
        " / on () group_left sum(rate(x_count[5m] offset 1h)) > 0 and studio:lag:max"
    )
    assert metric_names(expr) == {
        "http_request_duration_seconds_bucket",
        "x_count",
        "studio:lag:max",
    }


@pytest.mark.e2e
def test_every_metric_the_rules_and_dashboards_read_is_exposed_by_the_services(
    isolated_stack: Callable[..., Stack],
) -> None:
    stack = isolated_stack()
    for service in PORTS:
        stack.start(service)
    exposed: set[str] = set()
    for service, process in stack.processes.items():
        response = httpx.get(f"{process.url}/metrics", timeout=10)
        assert response.status_code == 200, service
        exposed |= exposed_names(response.text)
    used = used_metric_names()
    assert len(used) > 30
    missing = {name: sorted(users) for name, users in used.items() if name not in exposed}
    for name in PROMETHEUS_OWN:
        missing.pop(name, None)
    assert missing == {}
