"""Deploys one CloudFormation template on the local test server (moto) with boto3, the AWS SDK
for Python that moto's own venv carries, and prints what the stack became as one JSON object.

    deploy.py --endpoint URL --template FILE --stack NAME [--account ID] [--param KEY=VALUE ...]

--account: deploy as that account's OrganizationAccountAccessRole (assumed through STS), as a
service-managed StackSet deploys into a member account; without it, as the caller (the central
account). The Rust test tests/it/stacksets.rs runs it; nothing here contacts an address off this
machine (the endpoint is the loopback server).

What moto 5.1.22 cannot take is changed here, never in the template the product writes, and the
output says so under "changed_for_the_local_server":
- an AWS::KMS::Key with Tags fails with an HTTP 500 from the server, so the Tags are removed
  (setup finds a key by its alias; the tag is only its way back to a key whose alias an
  interrupted run did not create).
- a KMS key policy given as an object (as the template gives it) is stored as the object, and
  every KMS call on the key then fails with an HTTP 500 (json.loads of a dict); a role's inline
  policy given as an object is stored as Python's repr of it (not JSON). So both are given as the
  same document in JSON text (one Fn::Sub), which CloudFormation accepts for a Json property.
"""

import argparse
import json
import sys

import boto3


def _as_sub_text(document):
    """The same document as JSON text inside one Fn::Sub: each nested Fn::Sub becomes its text
    (its variables move to the outer one), every other string has its `${` escaped as `${!`.
    Any other function is refused, since it could not become text."""
    variables, raws = {}, []

    def walk(value):
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return value.replace("${", "${!")
        if not isinstance(value, dict):
            return value
        if list(value) == ["Fn::Sub"]:
            arg = value["Fn::Sub"]
            text = arg if isinstance(arg, str) else arg[0]
            if not isinstance(arg, str):
                variables.update(arg[1])
            raws.append(text)
            return f"@@raw{len(raws) - 1}@@"
        if any(k == "Ref" or k.startswith("Fn::") for k in value):
            sys.exit(f"cannot make text of {value}")
        return {k: walk(v) for k, v in value.items()}

    text = json.dumps(walk(document))
    for i, raw in enumerate(raws):
        text = text.replace(f"@@raw{i}@@", json.dumps(raw)[1:-1])
    return {"Fn::Sub": [text, variables]} if variables else {"Fn::Sub": text}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--template", required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--account")
    parser.add_argument("--param", action="append", default=[])
    args = parser.parse_args()
    if not args.endpoint.startswith(("http://127.0.0.1:", "http://localhost:")):
        sys.exit(f"refusing a non-loopback endpoint: {args.endpoint}")

    session = dict(
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    if args.account:
        creds = boto3.client("sts", **session).assume_role(
            RoleArn=f"arn:aws:iam::{args.account}:role/OrganizationAccountAccessRole",
            RoleSessionName="stackset",
        )["Credentials"]
        session.update(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
    with open(args.template, encoding="utf-8") as f:
        template = json.load(f)
    changed = []
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::KMS::Key":
            if "Tags" in props:
                del props["Tags"]
                changed.append(f"{logical_id}: Tags removed (moto 5.1.22 answers HTTP 500)")
            props["KeyPolicy"] = _as_sub_text(props["KeyPolicy"])
            changed.append(f"{logical_id}: KeyPolicy as JSON text")
        for policy in props.get("Policies", []) if resource.get("Type") == "AWS::IAM::Role" else []:
            policy["PolicyDocument"] = _as_sub_text(policy["PolicyDocument"])
            changed.append(f"{logical_id}: {policy['PolicyName']} as JSON text")

    cfn = boto3.client("cloudformation", **session)
    params = [
        {"ParameterKey": k, "ParameterValue": v}
        for k, v in (p.split("=", 1) for p in args.param)
    ]
    cfn.create_stack(
        StackName=args.stack,
        TemplateBody=json.dumps(template),
        Parameters=params,
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = cfn.describe_stacks(StackName=args.stack)["Stacks"][0]
    resources = cfn.describe_stack_resources(StackName=args.stack)["StackResources"]
    print(
        json.dumps(
            {
                "status": stack["StackStatus"],
                "reason": stack.get("StackStatusReason"),
                "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
                "resources": {
                    r["LogicalResourceId"]: r.get("PhysicalResourceId")
                    for r in resources
                    if "LogicalResourceId" in r
                },
                "changed_for_the_local_server": changed,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
