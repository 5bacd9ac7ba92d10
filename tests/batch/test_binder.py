"""Binder's environment agrees with pyproject.toml and installs the package."""

import os
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def _binder_requirements():
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    options = [line.strip() for line in lines if line.strip().startswith("-")]
    reqs = [Requirement(line.split("#")[0].strip()) for line in lines
            if line.strip() and not line.strip().startswith(("#", "-"))]
    return options, reqs


def _runtime_requirements():
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return [Requirement(r) for r in tomllib.load(fh)["project"]["dependencies"]]


def _by_name(reqs):
    named = {canonicalize_name(r.name): r for r in reqs}
    assert len(named) == len(reqs), "a requirement is listed twice"
    return named


def test_binder_requirements_are_the_runtime_dependencies():
    _, binder = _binder_requirements()
    ours, theirs = _by_name(binder), _by_name(_runtime_requirements())
    assert sorted(ours) == sorted(theirs)
    for name, req in theirs.items():
        assert ours[name].specifier == req.specifier, name
        assert ours[name].marker == req.marker and ours[name].extras == req.extras, name


def test_torch_comes_from_the_cpu_wheel_index():
    options, _ = _binder_requirements()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in options


def test_the_pins_admit_the_versions_this_suite_runs_on():
    _, binder = _binder_requirements()
    for req in binder:
        installed = version(req.name)  # PackageNotFoundError: the pin names nothing installed
        assert req.specifier.contains(installed, prereleases=True), (req, installed)


def test_post_build_installs_the_package_and_is_valid_bash():
    post = BINDER / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert os.access(post, os.X_OK)
    commands = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert commands == ["set -euo pipefail",
                        "python -m pip install --no-cache-dir --no-deps -e ."]
    subprocess.run([shutil.which("bash") or "bash", "-n", str(post)], check=True)
