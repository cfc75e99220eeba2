"""Deploy configs that point at the packaged zips.

The build's ``serverless.yml`` and ``template.yaml`` are read back as data and given the
artifacts (``package.artifact``, ``CodeUri``), the packaged runtime and architecture and,
with ``--layer``, the shared dependency layer. Neither tool re-zips anything then.
"""

from __future__ import annotations

from typing import Any

import yaml

from fastsplit.packager.deps import Target
from fastsplit.targets.yamlout import dump, header

LAYER_NAME = "deps"
SERVERLESS_LAYER_REF = "DepsLambdaLayer"  # how the framework names layer "deps"
SAM_LAYER_ID = "DepsLayer"


def serverless_yml(
    text: str, *, zips: dict[str, str], target: Target, layer_zip: str | None, app: str
) -> str:
    doc: dict[str, Any] = yaml.safe_load(text)
    runtime = f"python{target.python}"
    doc["provider"]["runtime"] = runtime
    doc["provider"]["architecture"] = target.arch
    doc["package"] = {"individually": True}
    if layer_zip:
        doc["layers"] = {
            LAYER_NAME: {
                "package": {"artifact": layer_zip},
                "description": f"Third-party dependencies of {app}",
                "compatibleRuntimes": [runtime],
                "compatibleArchitectures": [target.arch],
            }
        }
    for name, function in doc["functions"].items():
        function["handler"] = "handler.handler"
        function["architecture"] = target.arch
        function["package"] = {"artifact": zips[name]}
        if layer_zip:
            function["layers"] = [{"Ref": SERVERLESS_LAYER_REF}]
    return dump(doc, header=header("serverless.yml (packaged)", app))


def template_yaml(
    text: str, *, zips: dict[str, str], target: Target, layer_zip: str | None, app: str
) -> str:
    doc: dict[str, Any] = yaml.safe_load(text)
    runtime = f"python{target.python}"
    doc["Globals"]["Function"]["Runtime"] = runtime
    resources = doc["Resources"]
    if layer_zip:
        resources[SAM_LAYER_ID] = {
            "Type": "AWS::Serverless::LayerVersion",
            "Properties": {
                "ContentUri": layer_zip,
                "Description": f"Third-party dependencies of {app}",
                "CompatibleRuntimes": [runtime],
                "CompatibleArchitectures": [target.arch],
            },
        }
    for resource in resources.values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        folder = properties["CodeUri"].rstrip("/")
        properties["CodeUri"] = zips[folder.rsplit("/", 1)[-1]]
        properties["Architectures"] = [target.arch]
        if layer_zip:
            properties["Layers"] = [{"Ref": SAM_LAYER_ID}]
    return dump(doc, header=header("AWS SAM template (packaged)", app))
