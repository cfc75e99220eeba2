"""The incumbents, set up the way their docs say, on the same build as fastsplit.

Both start from the folders and configs that ``fastsplit build`` wrote, so all three
tools package the very same code, one function per route:

* AWS SAM: ``template.yaml`` has one ``AWS::Serverless::Function`` per route with its own
  ``CodeUri`` folder; a ``requirements.txt`` goes into each folder, which is how SAM's
  ``python_pip`` workflow learns the dependencies. ``sam build`` runs pip once per
  function and writes folders (``.aws-sam/build``), no zips.
* Serverless Framework (osls) with serverless-python-requirements: ``package:
  individually: true`` (already in the generated file, with per-function patterns), each
  function a ``module`` (its folder, with its own ``requirements.txt``) and the handler
  relative to it, so every zip holds the function's folder at its root, as fastsplit's
  do. The plugin installs each distinct requirements file once (its static cache, in
  HOME) and injects the installed packages into every function's zip.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from bench.harness import Sample, Tools, offline_env, timed

SPR_PLUGIN = "serverless-python-requirements"


def prepare_sam(build: Path, dest: Path, requirements: Path) -> int:
    """Copy the build to ``dest`` with ``requirements`` in every CodeUri; return the count."""
    _copy_build(build, dest)
    template = yaml.safe_load((dest / "template.yaml").read_text(encoding="utf-8"))
    count = 0
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            code = dest / resource["Properties"]["CodeUri"]
            shutil.copyfile(requirements, code / "requirements.txt")
            count += 1
    return count


SAM_FAST = ("--cached", "--parallel")


def sam_build(
    project: Path,
    *,
    flags: tuple[str, ...],
    home: Path,
    wheelhouse: Path,
    tools: Tools,
    log: Path,
) -> Sample:
    """``sam build FLAGS``; with :data:`SAM_FAST`, cold when ``.aws-sam`` is absent."""
    env = offline_env(home, tools)
    command = [tools.sam, "build", *flags]
    return timed(command, cwd=project, env=env, log=log, wheelhouse=wheelhouse)


def prepare_osls(build: Path, dest: Path, requirements: Path) -> int:
    """Copy the build to ``dest`` as a serverless-python-requirements service."""
    _copy_build(build, dest)
    path = dest / "serverless.yml"
    config: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["plugins"] = [SPR_PLUGIN]
    # The defaults otherwise: pythonBin = the runtime (python3.12 on PATH), no Docker,
    # static and download caches in HOME. Nothing is slimmed, as with the other tools.
    config.setdefault("custom", {})["pythonRequirements"] = {"dockerizePip": False}
    for name, function in config["functions"].items():
        folder = f"functions/{name}"
        shutil.copyfile(requirements, dest / folder / "requirements.txt")
        function["module"] = folder
        function["handler"] = "handler.handler"
        function["package"] = {"patterns": [f"{folder}/**"]}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return len(config["functions"])


def osls_package(service: Path, *, home: Path, wheelhouse: Path, tools: Tools, log: Path) -> Sample:
    """``osls package``: one zip per function in ``.serverless/``."""
    shutil.rmtree(service / ".serverless", ignore_errors=True)
    env = offline_env(home, tools)
    return timed([tools.osls, "package"], cwd=service, env=env, log=log, wheelhouse=wheelhouse)


def _copy_build(build: Path, dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(build, dest, ignore=shutil.ignore_patterns("__pycache__"))
