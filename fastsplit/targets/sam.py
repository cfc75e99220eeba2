"""AWS SAM ``template.yaml``: one ``AWS::Serverless::Function`` per route on one HttpApi."""

from __future__ import annotations

from typing import Any

from fastsplit.model import BuildPlan, Function
from fastsplit.targets.yamlout import dump, header, policy_document

API_ID = "HttpApi"


class SamTarget:
    name = "sam"

    def render(self, plan: BuildPlan) -> list[tuple[str, str]]:
        return [
            (
                "template.yaml",
                dump(document(plan), header=header("AWS SAM template", plan.spec.app)),
            )
        ]


def document(plan: BuildPlan) -> dict[str, Any]:
    resources: dict[str, Any] = {
        API_ID: {"Type": "AWS::Serverless::HttpApi", "Properties": {"StageName": plan.stage}}
    }
    for function in plan.functions:
        resources[function.logical_id] = _function(function)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"{plan.service}: {plan.spec.app} split into per-route functions",
        "Globals": {"Function": {"Runtime": plan.runtime, "Handler": "handler.handler"}},
        "Resources": resources,
        "Outputs": {
            "ApiUrl": {
                "Description": "Base URL of the HTTP API",
                "Value": {
                    "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"
                    + plan.stage
                },
            }
        },
    }


def _function(function: Function) -> dict[str, Any]:
    settings = function.settings
    properties: dict[str, Any] = {
        "CodeUri": f"{function.folder}/",
        "Description": function.description[:256],
        "MemorySize": settings.memory,
        "Timeout": settings.timeout,
        "Architectures": [settings.architecture],
    }
    if settings.environment:
        properties["Environment"] = {"Variables": dict(settings.environment)}
    if settings.reserved_concurrency is not None:
        properties["ReservedConcurrentExecutions"] = settings.reserved_concurrency
    if settings.provisioned_concurrency is not None:
        properties["AutoPublishAlias"] = "live"
        properties["ProvisionedConcurrencyConfig"] = {
            "ProvisionedConcurrentExecutions": settings.provisioned_concurrency
        }
    if settings.iam_statements:
        properties["Policies"] = [policy_document(settings.iam_statements)]
    properties["Events"] = {
        f"{function.logical_id.removesuffix('Function')}Event{index}": {
            "Type": "HttpApi",
            "Properties": {"ApiId": {"Ref": API_ID}, "Method": event.method, "Path": event.path},
        }
        for index, event in enumerate(function.events)
    }
    return {"Type": "AWS::Serverless::Function", "Properties": properties}
