"""``serverless.yml`` for the Serverless Framework (v3 / osls).

One function per route with ``httpApi`` events, ``package.individually`` so each
function ships its own folder, and ``configValidationMode: error`` so the framework
rejects anything it does not understand.
"""

from __future__ import annotations

from typing import Any

from fastsplit.model import BuildPlan, Function
from fastsplit.targets.yamlout import dump, header, policy_document

BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


class ServerlessTarget:
    name = "serverless"

    def render(self, plan: BuildPlan) -> list[tuple[str, str]]:
        return [
            ("serverless.yml", dump(document(plan), header=header("serverless.yml", plan.spec.app)))
        ]


def document(plan: BuildPlan) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "name": "aws",
        "runtime": plan.runtime,
        "stage": plan.stage,
        "region": plan.region,
    }
    shared_statements = _shared_statements(plan)
    if shared_statements:
        provider["iam"] = {"role": {"statements": [dict(s) for s in shared_statements]}}
    resources: dict[str, Any] = {}
    functions = {}
    for function in plan.functions:
        functions[function.name] = _function(function, shared_statements, resources)
    doc: dict[str, Any] = {
        "service": plan.service,
        "configValidationMode": "error",
        "provider": provider,
        "package": {"individually": True, "patterns": ["!**"]},
        "functions": functions,
    }
    if resources:
        doc["resources"] = {"Resources": resources}
    return doc


def _shared_statements(plan: BuildPlan) -> tuple[dict[str, Any], ...]:
    """IAM statements every function has (the provider role carries them)."""
    if not plan.functions:
        return ()
    first = plan.functions[0].settings.iam_statements
    common = [s for s in first if all(s in f.settings.iam_statements for f in plan.functions)]
    return tuple(common)


def _function(
    function: Function, shared: tuple[dict[str, Any], ...], resources: dict[str, Any]
) -> dict[str, Any]:
    settings = function.settings
    data: dict[str, Any] = {
        "handler": function.handler,
        "description": function.description[:256],
        "memorySize": settings.memory,
        "timeout": settings.timeout,
        "architecture": settings.architecture,
    }
    if settings.environment:
        data["environment"] = dict(settings.environment)
    if settings.reserved_concurrency is not None:
        data["reservedConcurrency"] = settings.reserved_concurrency
    if settings.provisioned_concurrency is not None:
        data["provisionedConcurrency"] = settings.provisioned_concurrency
    if len(settings.iam_statements) > len(shared):
        # Core Serverless has one role per service: a function with statements of its
        # own gets its own role, declared as a CloudFormation resource.
        role = f"{function.logical_id}Role"
        resources[role] = _role(function)
        data["role"] = role
    data["package"] = {"patterns": [f"{function.folder}/**"]}
    data["events"] = [
        {"httpApi": "*"}
        if event.path == "$default"
        else {"httpApi": {"method": event.method, "path": event.path}}
        for event in function.events
    ]
    return data


def _role(function: Function) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com"]},
                        "Action": ["sts:AssumeRole"],
                    }
                ],
            },
            "ManagedPolicyArns": [BASIC_EXECUTION_POLICY],
            "Policies": [
                {
                    "PolicyName": function.name,
                    "PolicyDocument": policy_document(function.settings.iam_statements),
                }
            ],
        },
    }
