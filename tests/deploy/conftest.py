"""Render the Helm chart offline, as `helm template` would, for the deployment tests.

Helm itself does the work: helm-python-sdk binds Helm's Go SDK (libhelm) with ctypes, so no
helm binary, cluster or network is involved. A platform whose libhelm cannot load skips these
tests with that reason; a missing package is a failure (the dev extra installs it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "linkguard"
FULL_VALUES = Path(__file__).with_name("values-full.yaml")
RELEASE, NAMESPACE = "lg", "mail"
# A key in the `linkguard keys new` format (kid:base64url of 32 bytes), for rendering only.
TEST_LINK_KEYS = "k1:CZP5PhDtRjgpYZ5oabDHJkBOC9eh5HZa7YGUr_XlGnA"
MINIMAL_VALUES: dict[str, Any] = {"linkKeys": {"value": TEST_LINK_KEYS}}

Manifest = dict[str, Any]


@pytest.fixture(scope="session")
def helm() -> ModuleType:
    try:
        import helm_python  # noqa: PLC0415 - here so a libhelm that cannot load skips
    except ImportError as exc:
        pytest.fail(f"helm-python-sdk is not installed ({exc}): `make test` installs the dev "
                    "extra, which has it")
    except OSError as exc:  # the bundled libhelm does not load here
        pytest.skip(f"helm-python-sdk's libhelm cannot run on this platform: {exc}")
    try:
        helm_python.helm_sdk_version()
    except (OSError, helm_python.HelmLibraryError) as exc:
        pytest.skip(f"helm-python-sdk's libhelm cannot run on this platform: {exc}")
    return helm_python


@pytest.fixture(scope="session")
def full_values(helm: ModuleType) -> dict[str, Any]:
    # Parsed by Helm's own YAML reader, as `helm install -f` reads a values file.
    values: dict[str, Any] = helm.values_from_yaml(FULL_VALUES.read_text(encoding="utf-8"))
    return values


Render = Callable[..., list[Manifest]]


@pytest.fixture(scope="session")
def render(helm: ModuleType) -> Render:
    """values → the rendered manifests (NOTES.txt left out), in template order."""
    def run(values: dict[str, Any], chart: Path = CHART) -> list[Manifest]:
        with helm.Chart.load(str(chart)) as loaded:
            rendered = loaded.render(values, name=RELEASE, namespace=NAMESPACE,
                                     is_install=True)
        docs: list[Manifest] = []
        for template, text in sorted(rendered.items()):
            if template.endswith(".yaml"):
                docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return docs
    return run


@pytest.fixture(scope="session")
def default_manifests(render: Render) -> list[Manifest]:
    return render(MINIMAL_VALUES)


@pytest.fixture(scope="session")
def full_manifests(render: Render, full_values: dict[str, Any]) -> list[Manifest]:
    return render(full_values)


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    """A copy of the chart to add files to."""
    target = tmp_path / "linkguard"
    shutil.copytree(CHART, target)
    return target


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: list[Manifest], kind: str, component: str | None = None) -> Manifest:
    found = [m for m in by_kind(manifests, kind)
             if component is None
             or m["metadata"]["labels"].get("app.kubernetes.io/component") == component]
    assert len(found) == 1, f"{len(found)} {kind} ({component})"
    return found[0]


def containers(manifests: list[Manifest]) -> list[Manifest]:
    return [c for d in by_kind(manifests, "Deployment")
            for c in d["spec"]["template"]["spec"]["containers"]]


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container.get("env", [])}
