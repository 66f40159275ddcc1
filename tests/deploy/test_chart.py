"""The Helm chart: rendered and linted by Helm, every manifest checked against Kubernetes' own
schemas, and the parts that must agree with the code (settings, routes, list formats, the
image's user) held to it.

Nothing here touches the network or a cluster: see conftest.py for how Helm runs offline.
kubernetes-validate carries the Kubernetes JSON schemas in its wheel.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

from linkguard.adapters.catalog_files import load_catalog, load_list_entries
from linkguard.bootstrap import load_policy
from linkguard.core.tokens import KeyRing
from linkguard.settings import Settings
from linkguard.web.routes.health import router as health_router
from tests.deploy.conftest import (
    CHART,
    FULL_VALUES,
    MINIMAL_VALUES,
    ROOT,
    TEST_LINK_KEYS,
    Manifest,
    Render,
    by_kind,
    containers,
    env_of,
    one,
)

# Settings the chart sets that are being added to linkguard/settings.py on another branch
# (storage: PostgreSQL and Redis). PENDING: remove each name here once Settings has it; the
# last test below fails as a reminder when it does.
PENDING_SETTINGS: set[str] = set()

DATA_DIR = "/var/lib/linkguard"
TMP = "/tmp"  # noqa: S108 - the pod's own /tmp volume, not a temporary file of the tests
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what the pod listens on, not a bind in the tests


def _values(**extra: Any) -> dict[str, Any]:
    return {**MINIMAL_VALUES, **extra}


def _kube_versions() -> list[str]:
    """The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest that
    kubernetes-validate has schemas for."""
    floor = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["kubeVersion"]
    match = re.fullmatch(r">=\s*(\d+\.\d+)\.\d+(-0)?", floor)
    assert match, floor
    return [match.group(1) + ".0", kubernetes_validate.utils.latest_version()]


@pytest.fixture(params=["default", "full"])
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    docs: list[Manifest] = request.getfixturevalue(f"{request.param}_manifests")
    return docs


# --- what is rendered ------------------------------------------------------------------------

def test_default_values_render_the_core_objects(default_manifests: list[Manifest]) -> None:
    kinds = sorted(m["kind"] for m in default_manifests)
    assert kinds == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service",
                     "ServiceAccount"]


def test_full_values_render_every_optional_part(full_manifests: list[Manifest]) -> None:
    kinds = sorted(m["kind"] for m in full_manifests)
    assert kinds == ["ConfigMap", "Deployment", "Deployment", "HorizontalPodAutoscaler",
                     "Ingress", "PodDisruptionBudget", "Secret", "Service", "Service",
                     "ServiceAccount", "ServiceMonitor"]
    hpa = one(full_manifests, "HorizontalPodAutoscaler")
    gateway = one(full_manifests, "Deployment", "gateway")
    assert hpa["spec"]["scaleTargetRef"]["name"] == gateway["metadata"]["name"]
    assert "replicas" not in gateway["spec"]  # the autoscaler owns the count


@pytest.mark.parametrize("which", ["default", "full"])
def test_helm_lint_finds_nothing(helm: ModuleType, which: str,
                                 full_values: dict[str, Any]) -> None:
    values = MINIMAL_VALUES if which == "default" else full_values
    report = helm.lint(str(CHART), values, strict=True, kube_version="v" + _kube_versions()[1])
    # Severity 1 is information ("icon is recommended"); 2 warning, 3 error.
    findings = [m for m in report["messages"] if m["severity"] >= 2]
    assert not findings, report
    assert not report["errors"], report


@pytest.mark.parametrize("kube_version", _kube_versions())
def test_every_manifest_is_valid_kubernetes(manifests: list[Manifest], kube_version: str) -> None:
    for manifest in manifests:
        if manifest["kind"] == "ServiceMonitor":
            continue  # a CRD, not in Kubernetes' schemas: checked in the next test
        try:
            kubernetes_validate.validate(manifest, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{manifest['kind']} {manifest['metadata']['name']}: {where}: "
                        f"{exc.message}")


def test_service_monitor_scrapes_the_gateway_metrics(full_manifests: list[Manifest]) -> None:
    monitor = one(full_manifests, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = by_kind(full_manifests, "Service")
    selected = [s for s in services
                if selector.items() <= s["metadata"]["labels"].items()]
    assert selected == [one(full_manifests, "Service", "gateway")]  # not the SMTP filter's
    ports = {p["name"] for p in selected[0]["spec"]["ports"]}
    paths = {route.path for route in health_router.routes}  # type: ignore[attr-defined]
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in ports
        assert endpoint["path"] in paths


def test_ingress_routes_to_the_gateway_service(full_manifests: list[Manifest]) -> None:
    ingress = one(full_manifests, "Ingress")
    service = one(full_manifests, "Service", "gateway")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


# --- how the pods run ------------------------------------------------------------------------

def test_pods_run_as_the_image_user_read_only_without_capabilities(
        manifests: list[Manifest]) -> None:
    image_uid = int(re.search(r"^USER (\d+)", (ROOT / "Dockerfile").read_text(encoding="utf-8"),
                              re.MULTILINE).group(1))  # type: ignore[union-attr]
    for deployment in by_kind(manifests, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == image_uid
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["runAsNonRoot"] is True
            # The only writable places: the data directory and /tmp, both volumes.
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            assert {DATA_DIR, TMP} <= set(mounts)
            assert env_of(container)["LINKGUARD_DATA_DIR"]["value"] == DATA_DIR
            for path, mount in mounts.items():
                if path not in {DATA_DIR, TMP}:
                    assert mount.get("readOnly") is True, path
                assert mount["name"] in volumes


def test_data_volume_is_a_claim_only_with_persistence(render: Render) -> None:
    docs = render(_values(persistence={"enabled": True, "size": "2Gi"}))
    claim = one(docs, "PersistentVolumeClaim")
    deployment = one(docs, "Deployment", "gateway")
    data = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}["data"]
    assert data["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # one ReadWriteOnce volume


def test_gateway_probes_hit_the_health_routes(manifests: list[Manifest]) -> None:
    paths = {route.path for route in health_router.routes}  # type: ignore[attr-defined]
    gateway = one(manifests, "Deployment", "gateway")
    (container,) = gateway["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["serve"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/healthz", "/readyz"} <= paths
    (port,) = container["ports"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] == port["name"]
    env = env_of(container)
    assert env["LINKGUARD_HOST"]["value"] == ALL_INTERFACES
    assert int(env["LINKGUARD_PORT"]["value"]) == port["containerPort"]
    service = one(manifests, "Service", "gateway")
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]


def test_smtp_filter_listens_where_its_service_points(full_manifests: list[Manifest],
                                                      full_values: dict[str, Any]) -> None:
    deployment = one(full_manifests, "Deployment", "smtp-filter")
    service = one(full_manifests, "Service", "smtp-filter")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = env_of(container)
    assert container["args"] == ["smtp-filter"]
    listen_port = int(env["LINKGUARD_MAIL_LISTEN"]["value"].rsplit(":", 1)[1])
    (port,) = container["ports"]
    assert port["containerPort"] == listen_port == 10025
    assert service["spec"]["ports"][0] == {"name": "smtp", "port": 10025, "targetPort": "smtp",
                                           "protocol": "TCP"}
    assert service["spec"]["selector"].items() <= \
        deployment["spec"]["template"]["metadata"]["labels"].items()
    assert env["LINKGUARD_MAIL_REINJECT"]["value"] == full_values["smtpFilter"]["reinject"]
    # Messages in flight get their grace on SIGTERM before Kubernetes kills the pod.
    grace = float(env["LINKGUARD_MAIL_SHUTDOWN_GRACE"]["value"])
    assert pod["terminationGracePeriodSeconds"] > grace
    assert container["readinessProbe"]["tcpSocket"]["port"] == "smtp"


def test_services_select_only_their_own_pods(full_manifests: list[Manifest]) -> None:
    for component in ("gateway", "smtp-filter"):
        service = one(full_manifests, "Service", component)
        selected = [d["metadata"]["name"] for d in by_kind(full_manifests, "Deployment")
                    if service["spec"]["selector"].items()
                    <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert selected == [one(full_manifests, "Deployment", component)["metadata"]["name"]]
    budget = one(full_manifests, "PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"] == \
        one(full_manifests, "Service", "gateway")["spec"]["selector"]


# --- settings: names the code reads, values it accepts -------------------------------------

def test_every_env_name_is_a_real_setting(manifests: list[Manifest]) -> None:
    prefix = Settings.model_config.get("env_prefix")
    assert prefix == "LINKGUARD_"
    known = set(Settings.model_fields) | PENDING_SETTINGS
    names = {e["name"] for c in containers(manifests) for e in c.get("env", [])}
    assert names, "no env rendered"
    unknown = sorted(n for n in names
                     if not n.startswith(prefix) or n[len(prefix):].lower() not in known)
    assert not unknown, f"not LINKGUARD_* settings of linkguard.settings.Settings: {unknown}"


def test_pending_settings_are_still_pending() -> None:
    landed = PENDING_SETTINGS & set(Settings.model_fields)
    assert not landed, (f"{sorted(landed)} are in Settings now: remove them from "
                        "PENDING_SETTINGS in tests/deploy/test_chart.py")


def test_secrets_reach_the_pods_unchanged(full_manifests: list[Manifest],
                                          full_values: dict[str, Any]) -> None:
    secret = one(full_manifests, "Secret")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    # The user's own Secrets (existingSecret) are referenced, never copied into the chart's.
    assert set(data) == {"link-keys", "api-keys", "database-url"}
    KeyRing.parse(data["link-keys"])  # the keys as linkguard reads them
    assert data["link-keys"] == full_values["linkKeys"]["value"]
    for container in containers(full_manifests):
        env = env_of(container)
        refs = {name: env[name]["valueFrom"]["secretKeyRef"] for name in
                ("LINKGUARD_LINK_KEYS", "LINKGUARD_SESSION_SECRET", "LINKGUARD_API_KEYS",
                 "LINKGUARD_DATABASE_URL", "LINKGUARD_REDIS_URL")}
        assert refs["LINKGUARD_LINK_KEYS"] == {"name": secret["metadata"]["name"],
                                               "key": "link-keys"}
        assert refs["LINKGUARD_DATABASE_URL"]["name"] == secret["metadata"]["name"]
        assert refs["LINKGUARD_SESSION_SECRET"] == {"name": "linkguard-session",
                                                    "key": "session-secret"}
        assert refs["LINKGUARD_REDIS_URL"] == {"name": "linkguard-redis", "key": "url"}
        assert "value" not in env["LINKGUARD_LINK_KEYS"]  # never in plain text in the spec


def test_existing_secret_replaces_the_charts_secret(render: Render) -> None:
    docs = render({"linkKeys": {"existingSecret": "my-keys", "secretKey": "keys"}})
    assert not by_kind(docs, "Secret")
    env = env_of(containers(docs)[0])
    assert env["LINKGUARD_LINK_KEYS"]["valueFrom"]["secretKeyRef"] == {"name": "my-keys",
                                                                       "key": "keys"}


def test_config_files_are_read_by_linkguard(full_manifests: list[Manifest],
                                            tmp_path: Path) -> None:
    """The ConfigMap's files, written where the pod mounts them, load with linkguard's own
    readers, and the LINKGUARD_*_FILE(S) settings name exactly them."""
    config_map = one(full_manifests, "ConfigMap")
    container = one(full_manifests, "Deployment", "gateway")["spec"]["template"]["spec"][
        "containers"][0]
    mount = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["config"]
    for name, text in config_map["data"].items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = env_of(container)

    def local(setting: str) -> list[Path]:
        paths = env[setting]["value"].split(",")
        assert all(p.startswith(mount + "/") for p in paths), paths
        return [tmp_path / p[len(mount) + 1:] for p in paths]

    entries = load_list_entries(local("LINKGUARD_LIST_FILES"))
    assert len(entries) == 3  # lists.allow + lists.block of values-full.yaml
    (policy_file,) = local("LINKGUARD_POLICY_FILE")
    policy = load_policy(policy_file)
    assert policy.thresholds["confirm"] == 9
    assert policy.weights["domain.young"] == 5
    catalog = load_catalog(ROOT / "allowlists", list_files=local("LINKGUARD_LIST_FILES"),
                           brand_files=local("LINKGUARD_BRAND_FILES"))
    assert "Example Bank" in {brand.name for brand in catalog.brands}


def test_list_files_in_the_chart_folder_are_shipped(render: Render, chart_copy: Path,
                                                    tmp_path: Path) -> None:
    # An admin's list file in the allowlists/ format, dropped into files/lists/.
    source = ROOT / "allowlists" / "block.yaml"
    shutil.copy(source, chart_copy / "files" / "lists" / "acme.yaml")
    docs = render(_values(lists={"allow": [{"domain": "example.org", "reason": "r",
                                            "owner": "o"}]}), chart=chart_copy)
    data = one(docs, "ConfigMap")["data"]
    assert data["list-acme.yaml"] == source.read_text(encoding="utf-8")
    assert "README.md" not in "".join(data)  # only *.yaml files are lists
    env = env_of(containers(docs)[0])
    assert env["LINKGUARD_LIST_FILES"]["value"] == \
        "/etc/linkguard/list-acme.yaml,/etc/linkguard/list-values.yaml"
    (tmp_path / "acme.yaml").write_text(data["list-acme.yaml"], encoding="utf-8")
    load_list_entries([tmp_path / "acme.yaml"])


def test_pods_roll_when_config_or_secret_changes(render: Render) -> None:
    def annotations(values: dict[str, Any]) -> dict[str, str]:
        deployment = one(render(values), "Deployment", "gateway")
        found: dict[str, str] = deployment["spec"]["template"]["metadata"]["annotations"]
        return found

    base = annotations(MINIMAL_VALUES)
    policy = annotations(_values(policy={"thresholds": {"warn": 5}}))
    rotated = annotations({"linkKeys": {"value": "k2:H4QJKWubTCjh5GbUO90r0X55TWuX0uFDOpHdJFtv"
                                                 "CNI," + TEST_LINK_KEYS}})
    assert policy["checksum/config"] != base["checksum/config"]
    assert policy["checksum/secret"] == base["checksum/secret"]
    assert rotated["checksum/secret"] != base["checksum/secret"]
    assert rotated["checksum/config"] == base["checksum/config"]


# --- what the chart refuses -----------------------------------------------------------------

def test_refuses_to_render_without_link_keys(helm: ModuleType, render: Render) -> None:
    with pytest.raises(helm.HelmRenderError, match="linkKeys"):
        render({})


def test_several_replicas_need_postgresql_and_redis(helm: ModuleType, render: Render) -> None:
    with pytest.raises(helm.HelmRenderError, match="PostgreSQL and Redis"):
        render(_values(replicaCount=3))
    with pytest.raises(helm.HelmRenderError, match="PostgreSQL and Redis"):
        render(_values(autoscaling={"enabled": True},
                       externalDatabase={"url": "postgresql://db/linkguard"}))


def test_smtp_filter_needs_somewhere_to_hand_mail_back(helm: ModuleType,
                                                       render: Render) -> None:
    with pytest.raises(helm.HelmRenderError, match=r"smtpFilter\.reinject"):
        render(_values(smtpFilter={"enabled": True}))


@pytest.mark.parametrize(("values", "complaint"), [
    ({"replicaCont": 2}, "replicaCont"),
    ({"ingress": {"enabeld": True}}, "enabeld"),
    ({"linkKeys": {"value": TEST_LINK_KEYS, "existingSecert": "x"}}, "existingSecert"),
    ({"env": {"LINKGAURD_PORT": "1"}}, "LINKGAURD_PORT"),
    ({"smtpFilter": {"reinject": "postfix"}}, "reinject"),
    ({"sessionSecret": {"value": "short"}}, "sessionSecret"),
    ({"policy": {"treshold": {"warn": 3}}}, "treshold"),
    ({"image": {"digest": "latest"}}, "digest"),
])
def test_schema_rejects_typos_and_bad_values(helm: ModuleType, render: Render,
                                             values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=complaint):
        render({**MINIMAL_VALUES, **values})


def test_schema_covers_every_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) - {"global"} == set(values)
    full = yaml.safe_load(FULL_VALUES.read_text(encoding="utf-8"))
    assert set(full) <= set(values)


def test_chart_app_version_is_the_package_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["appVersion"] == project["version"]


def test_readme_deploying_example_renders(helm: ModuleType, render: Render) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploying", 1)[1].split("\n## ", 1)[0]
    (example,) = [block for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
                  if block.startswith("# values-prod.yaml")]
    docs = render(helm.values_from_yaml(example))
    assert one(docs, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3
    assert one(docs, "Deployment", "smtp-filter")
    assert "bench/replicas.py" in section  # the measured replica figures and where they come from
