"""deploy/k8s: every overlay rendered with `kubectl kustomize`, validated offline with
`kubernetes-validate --strict` (the KEDA ScaledObject against tests/deploy/schemas, since
kubernetes-validate ships no CRD schemas), and checked for what the operators rely on."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from contracts import subjects
from tests.support.deploy import PACKAGES, ROOT, SETTINGS, settings_error, tool, unknown_settings

OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.32.0"
KEDA_SCHEMA = json.loads((Path(__file__).parent / "schemas/keda-scaledobject.json").read_text())
Resource = dict[str, Any]


@cache
def rendered(overlay: str) -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is needed to render deploy/k8s"
    result = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "deploy/k8s/overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def resources(overlay: str) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(rendered(overlay)) if doc]


def of_kind(overlay: str, kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources(overlay) if r["kind"] == kind}


def config(overlay: str) -> dict[str, str]:
    [configmap] = of_kind(overlay, "ConfigMap").values()
    return dict(configmap["data"])


def containers(resource: Resource) -> Iterator[Resource]:
    pod = resource["spec"]["template"]["spec"]
    yield from pod.get("initContainers", [])
    yield from pod["containers"]


def service_of(container: Resource) -> str:
    return str(container["name"]).removeprefix("migrate-")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_validates_strictly_offline(overlay: str, tmp_path: Path) -> None:
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(rendered(overlay))
    result = subprocess.run(
        [
            tool("kubernetes-validate"),
            "--strict",
            "--quiet",
            "-k",
            KUBERNETES_VERSION,
            str(manifest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    output = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 0, "\n".join(output[:20])
    assert not [line for line in output if line.startswith("ERROR")]
    # kubernetes-validate has no schema for CRDs: only KEDA's may go unchecked by it (checked below).
    unchecked = [line for line in output if line.startswith("WARN")]
    assert unchecked, "expected the ScaledObject to be reported as unchecked"
    assert all("kind ScaledObject with api version keda.sh/v1alpha1" in w for w in unchecked)


def test_strict_validation_catches_a_misspelt_field(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        rendered("dev").replace("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", 1)
    )
    result = subprocess.run(
        [
            tool("kubernetes-validate"),
            "--strict",
            "--quiet",
            "-k",
            KUBERNETES_VERSION,
            str(manifest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_scaled_object_scales_the_test_runner_on_its_jetstream_lag(overlay: str) -> None:
    [scaled] = of_kind(overlay, "ScaledObject").values()
    jsonschema.validate(scaled, KEDA_SCHEMA)
    assert scaled["spec"]["scaleTargetRef"]["name"] == "test-runner"
    assert "replicas" not in of_kind(overlay, "Deployment")["test-runner"]["spec"]
    root = config(overlay)["NATS_SUBJECT_ROOT"]
    runner_durables = {d.name: d for d in subjects.ALL_DURABLES if d.service == "test_runner"}
    consumers = set()
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["type"] == "nats-jetstream"
        meta = trigger["metadata"]
        durable = runner_durables[meta["consumer"]]
        assert meta["stream"] == durable.stream.full_name(root)
        consumers.add(meta["consumer"])
    assert "test_runner--execute_case" in consumers
    minimum = scaled["spec"]["minReplicaCount"]
    assert minimum == 0 if overlay == "dev" else minimum >= 1


def test_the_keda_schema_refuses_a_misspelt_scaler_setting() -> None:
    [scaled] = of_kind("dev", "ScaledObject").values()
    trigger = scaled["spec"]["triggers"][0]
    broken = {
        **scaled,
        "spec": {
            **scaled["spec"],
            "triggers": [{**trigger, "metadata": {**trigger["metadata"], "lagTreshold": "5"}}],
        },
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, KEDA_SCHEMA)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_meets_the_restricted_pod_security_profile(overlay: str) -> None:
    [namespace] = of_kind(overlay, "Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    workloads = [*of_kind(overlay, "Deployment").values(), *of_kind(overlay, "Job").values()]
    assert len(workloads) == 5
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in containers(workload):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, container["name"]
            assert security["readOnlyRootFilesystem"] is True, container["name"]
            assert security["capabilities"] == {"drop": ["ALL"]}, container["name"]
            assert {"requests", "limits"} <= set(container["resources"]), container["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_is_probed_on_its_own_endpoints_and_drains_before_it_is_killed(
    overlay: str,
) -> None:
    grace = float(config(overlay)["SHUTDOWN_GRACE_SECONDS"])
    deployments = of_kind(overlay, "Deployment")
    assert set(deployments) == set(SETTINGS)
    for name, deployment in deployments.items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", PACKAGES[name]]
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace + 5


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_service_and_a_disruption_budget_that_select_its_pods(
    overlay: str,
) -> None:
    services, budgets = of_kind(overlay, "Service"), of_kind(overlay, "PodDisruptionBudget")
    for name, deployment in of_kind(overlay, "Deployment").items():
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert services[name]["spec"]["selector"].items() <= pod_labels.items()
        assert budgets[name]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    [hpa] = of_kind(overlay, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gateway"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_as_a_job_for_every_schema_before_the_rollout(overlay: str) -> None:
    [job] = of_kind(overlay, "Job").values()
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    commands = [c["command"] for c in containers(job)]
    assert sorted(commands) == sorted(["python", "-m", p, "migrate"] for p in PACKAGES.values())


# What the installation's Secrets hold, as the services would read them: outside development a
# setting refuses a missing or placeholder secret, so the check needs real-looking ones.
FROM_SECRETS = {
    "DATABASE_URL": "postgresql://studio:Kx9-from-the-secret@postgres:5432/agent_studio",
    "OPENAI_API_KEY": "sk-live-Kx9-from-the-secret",
    "SMTP_USERNAME": "studio",
    "SMTP_PASSWORD": "Kx9-from-the-secret",
}


def given(container: Resource) -> dict[str, str]:
    """The container's literal settings, and a stand-in for each one taken from a Secret."""
    values = {}
    for entry in container.get("env", []):
        if "value" in entry:
            values[entry["name"]] = entry["value"]
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            assert entry["name"] in FROM_SECRETS, f"give {entry['name']} a stand-in value"
            values[entry["name"]] = FROM_SECRETS[entry["name"]]
    return values


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_given_is_one_the_service_reads_and_accepts(overlay: str) -> None:
    shared = config(overlay)
    workloads = [*of_kind(overlay, "Deployment").values(), *of_kind(overlay, "Job").values()]
    for workload in workloads:
        for container in containers(workload):
            service = service_of(container)
            names = {**shared, **{e["name"]: e.get("value", "") for e in container.get("env", [])}}
            assert unknown_settings(service, names) == [], container["name"]
            assert settings_error(service, {**shared, **given(container)}) is None, container[
                "name"
            ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_committed(overlay: str) -> None:
    assert of_kind(overlay, "Secret") == {}
    for deployment in of_kind(overlay, "Deployment").values():
        for container in containers(deployment):
            by_name = {e["name"]: e for e in container["env"]}
            assert "secretKeyRef" in by_name["DATABASE_URL"]["valueFrom"]
    for key in config(overlay):
        assert not any(secret in key for secret in ("KEY", "PASSWORD", "DATABASE_URL")), key


def test_the_environments_differ_where_they_should() -> None:
    dev, prod = config("dev"), config("prod")
    assert (dev["STUDIO_ENV"], prod["STUDIO_ENV"]) == ("development", "production")
    # Production streams live on all three nodes of the JetStream cluster.
    assert (dev["NATS_STREAM_REPLICAS"], prod["NATS_STREAM_REPLICAS"]) == ("1", "3")
    assert {
        r["metadata"].get("namespace") for r in resources("dev") if r["kind"] != "Namespace"
    } == {"agent-studio-dev"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_takes_traffic_and_only_ai_callers_reach_out(overlay: str) -> None:
    policies = of_kind(overlay, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    metrics_ports = {8000, 8101, 8102, 8103}
    for name, policy in policies.items():
        spec = policy["spec"]
        for rule in spec.get("ingress", []):
            ports = {p["port"] for p in rule["ports"]}
            selects_gateway = (
                spec["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
                == "gateway"
            )
            from_monitoring = all(
                f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "monitoring"
                for f in rule["from"]
            )
            assert selects_gateway or (from_monitoring and ports <= metrics_ports), name
        for rule in spec.get("egress", []):
            if any("ipBlock" in t for t in rule["to"]):
                callers = spec["podSelector"]["matchExpressions"][0]["values"]
                assert set(callers) == {"gateway", "compiler", "test-runner"}, name
