"""template.yaml, transformed offline (samtranslator) and evaluated for given parameter values.

`Stack(template, **parameters)` instantiates Conditions / Fn::If for those values and folds
Sub/Join/Split/Select over known values; references to resources are kept (what the template
tests assert on). `Stack.concrete(...)` goes one step further for the IAM checks: every Ref and
GetAtt of a resource becomes the physical name or ARN CloudFormation would give it.
"""

from __future__ import annotations

import copy
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REQUIRED = {"SourceBuckets": "raw-a,raw-b", "ManifestBucket": "manifests-bucket"}
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}


@cache
def source() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


class _NoManagedPolicies:
    """samtranslator's policy loader; the template attaches no managed policy by name."""

    def load(self) -> dict[str, str]:
        return {}


@cache
def transformed() -> dict[str, Any]:
    template = copy.deepcopy(source())
    # The translator wants an S3 URI; `sam build`/`sam package` replace CodeUri the same way.
    template["Resources"]["LoaderFunction"]["Properties"]["CodeUri"] = "s3://artifacts/loader.zip"
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    try:
        return transform(template, {}, _NoManagedPolicies())
    finally:
        if previous is None:
            del os.environ["AWS_DEFAULT_REGION"]
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


# --------------------------------------------------------------------------------------------------
# A minimal evaluator: parameters -> conditions -> the concrete template (Fn::If, NoValue, Ref to
# parameters, and Sub/Join/Split/Select over known values). References to resources are kept.
# --------------------------------------------------------------------------------------------------
_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class Stack:
    def __init__(self, template: dict[str, Any], **overrides: str) -> None:
        self.template = template
        self.params: dict[str, Any] = {k: overrides.get(k, v) for k, v in PSEUDO.items()}
        for name, spec in template["Parameters"].items():
            raw = str(overrides.get(name, {**REQUIRED}.get(name, spec.get("Default", ""))))
            is_list = spec["Type"] == "CommaDelimitedList" or spec["Type"].startswith("List<")
            self.params[name] = raw.split(",") if is_list else raw
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self._value(self.template["Conditions"][name]))
        return self._conditions[name]

    def _value(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((fn, arg),) = node.items()
        handlers = {
            "Ref": lambda: self.params[arg],
            "Condition": lambda: self.condition(arg),
            "Fn::Equals": lambda: str(self._value(arg[0])) == str(self._value(arg[1])),
            "Fn::Not": lambda: not self._value(arg[0]),
            "Fn::And": lambda: all(self._value(a) for a in arg),
            "Fn::Or": lambda: any(self._value(a) for a in arg),
            "Fn::Join": lambda: arg[0].join(
                self._value(arg[1]) if isinstance(arg[1], dict) else map(self._value, arg[1])
            ),
            "Fn::Split": lambda: self._value(arg[1]).split(arg[0]),
            "Fn::Select": lambda: self._value(arg[1])[int(arg[0])],
        }
        return handlers[fn]()

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(self.resolve, node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return self.resolve(when_true if self.condition(name) else when_false)
        if node == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if set(node) == {"Ref"} and node["Ref"] in self.params:
            return self.params[node["Ref"]]
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return self._fold({k: v for k, v in resolved.items() if v is not _NO_VALUE})

    def _fold(self, node: dict[str, Any]) -> Any:
        """Compute Sub/Join/Split/Select when their inputs are already plain values."""
        if len(node) != 1:
            return node
        ((fn, arg),) = node.items()
        # function -> (can it be computed?, its value)
        plain = {
            "Fn::Join": (
                lambda: all(isinstance(a, str) for a in as_list(arg[1])),
                lambda: arg[0].join(arg[1]),
            ),
            "Fn::Split": (lambda: isinstance(arg[1], str), lambda: arg[1].split(arg[0])),
            "Fn::Select": (lambda: isinstance(arg[1], list), lambda: arg[1][int(arg[0])]),
            "Fn::FindInMap": (
                lambda: all(isinstance(a, str) for a in arg),
                lambda: self.template["Mappings"][arg[0]][arg[1]][arg[2]],
            ),
        }
        if fn in plain and plain[fn][0]():
            return plain[fn][1]()
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            known = {**{k: v for k, v in self.params.items() if isinstance(v, str)}, **variables}
            text = _SUB_VARIABLE.sub(
                lambda m: known[m[1]] if isinstance(known.get(m[1]), str) else m[0], text
            )
            return text if not _SUB_VARIABLE.search(text) else {"Fn::Sub": text}
        return node

    def resources(self) -> dict[str, dict[str, Any]]:
        return {
            logical_id: self.resolve(resource)
            for logical_id, resource in self.template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    def statements(self, logical_id: str = "LoaderRole") -> dict[str, dict[str, Any]]:
        """The statements of a role's inline policies or of a managed policy, by Sid."""
        resources = self.resources()
        props = resources[logical_id]["Properties"]
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        if "PolicyDocument" in props:
            documents.append(props["PolicyDocument"])
        for attached in props.get("ManagedPolicyArns", []):  # the stack's own managed policies
            documents.append(resources[attached["Ref"]]["Properties"]["PolicyDocument"])
        return {s["Sid"]: s for d in documents for s in d["Statement"]}

    # --- physical names ---------------------------------------------------------------------
    def physical(self) -> dict[str, dict[str, str]]:
        """Logical id -> {"Ref": ..., "Arn": ..., other attributes} as CloudFormation names them
        (every named resource of the template has its name spelled out in Properties)."""
        region, account = self.params["AWS::Region"], self.params["AWS::AccountId"]

        def arn(service: str, rest: str) -> str:
            return f"arn:aws:{service}:{region}:{account}:{rest}"

        found: dict[str, dict[str, str]] = {}
        for logical_id, resource in self.resources().items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::DynamoDB::Table":
                name = props["TableName"]
                found[logical_id] = {"Ref": name, "Arn": arn("dynamodb", f"table/{name}")}
            elif kind == "AWS::SQS::Queue":
                name = props["QueueName"]
                url = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
                found[logical_id] = {"Ref": url, "Arn": arn("sqs", name), "QueueName": name}
            elif kind == "AWS::SNS::Topic":
                name = props["TopicName"]
                found[logical_id] = {"Ref": arn("sns", name), "TopicName": name}
            elif kind == "AWS::Logs::LogGroup":
                name = props["LogGroupName"]
                found[logical_id] = {"Ref": name, "Arn": arn("logs", f"log-group:{name}:*")}
            elif kind == "AWS::Lambda::Function":
                name = props["FunctionName"]
                found[logical_id] = {"Ref": name, "Arn": arn("lambda", f"function:{name}")}
            elif kind == "AWS::IAM::ManagedPolicy":
                found[logical_id] = {"Ref": arn("iam", f"policy/{logical_id}").replace(region, "")}
            elif kind == "AWS::Events::Rule" and "Name" in props:
                found[logical_id] = {"Arn": arn("events", f"rule/{props['Name']}")}
        return found

    def concrete(self, node: Any) -> Any:
        """`node` resolved, with every resource Ref / GetAtt / ${X.Arn} replaced by its value."""
        names = self.physical()

        def walk(value: Any) -> Any:
            if isinstance(value, list):
                return [walk(v) for v in value]
            if not isinstance(value, dict):
                return value
            if set(value) == {"Ref"} and value["Ref"] in names:
                return names[value["Ref"]]["Ref"]
            if set(value) == {"Fn::GetAtt"}:
                logical_id, attribute = value["Fn::GetAtt"]
                return names[logical_id][attribute]
            if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):

                def one(match: re.Match[str]) -> str:
                    logical_id, _, attribute = match[1].partition(".")
                    return names[logical_id][attribute or "Ref"]

                return _SUB_VARIABLE.sub(one, value["Fn::Sub"])
            return {k: walk(v) for k, v in value.items()}

        return walk(self.resolve(node))

    def concrete_statements(self, logical_id: str = "LoaderRole") -> list[dict[str, Any]]:
        """The policy statements with concrete actions and resources (lists, always)."""
        resolved = self.statements(logical_id)
        out = []
        for statement in resolved.values():
            done = self.concrete(statement)
            done["Action"] = as_list(done["Action"])
            done["Resource"] = _flatten(done["Resource"])
            out.append(done)
        return out


def _flatten(value: Any) -> list[str]:
    if isinstance(value, list):
        return [item for v in value for item in _flatten(v)]
    return [value]


def all_statements(node: Any) -> list[dict[str, Any]]:
    """Every policy statement anywhere in the template, in every Fn::If branch."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            found.append(node)
        for value in node.values():
            found += all_statements(value)
    elif isinstance(node, list):
        for value in node:
            found += all_statements(value)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
