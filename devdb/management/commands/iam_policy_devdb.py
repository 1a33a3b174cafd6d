import argparse
import json
import re

from ... import conf, policy
from ...aws import Gateway
from ...errors import ConfigError
from ..base import EXIT_STATUSES, DevdbCommand

# What the policy is made of: a bad value of any other setting does not stop it from being printed.
USED_SETTINGS = ("SOURCE_CLUSTER", "HOSTED_ZONE_ID", "RECORD_NAME", "CLONE_PREFIX", "KMS_KEY_ID", "MASTER_PASSWORD_ENV", "MASK",
                 "AWS_MAX_ATTEMPTS")


def _account(text):
    if text != "*" and not re.fullmatch(r"\d{12}", text):
        raise argparse.ArgumentTypeError(f"must be a 12-digit AWS account id or *, got {text!r}")
    return text


def _region(text):
    if text != "*" and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", text):
        raise argparse.ArgumentTypeError(f"must be an AWS region such as eu-west-1, or *, got {text!r}")
    return text


def _arn(service, kind):
    def parse(text):
        if not re.fullmatch(rf"arn:aws[a-z-]*:{service}:[a-z0-9-]*:\d{{12}}:{kind}/\S+", text):
            example = f"arn:aws:{service}:{'' if service == 'iam' else 'REGION'}:ACCOUNT:{kind}/NAME"
            raise argparse.ArgumentTypeError(f"must be a {service.upper()} {kind} ARN such as {example}, got {text!r}")
        return text

    return parse


class Command(DevdbCommand):
    help = ("Print the least-privilege IAM policy (JSON) django-devdb needs for the configured targets: "
            "deletes only of resources tagged devdb:managed-by=django-devdb, Route53 only on the configured zones. "
            "The source's KMS key and IAM roles come from --kms-key-arn / --role-arn, or from the sources "
            "themselves with --from-aws.")
    dry_run = False
    json_output = False  # the policy is JSON anyway, for `aws iam put-role-policy` or Terraform
    exit_statuses = {code: meaning for code, meaning in EXIT_STATUSES.items() if code != 3}  # takes no lease

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--account", type=_account, default="*", metavar="ACCOUNT_ID",
                            help="AWS account id to put in the RDS ARNs (default *)")
        parser.add_argument("--region", type=_region, default="*", help="AWS region to put in the RDS ARNs (default *)")
        parser.add_argument("--partition", choices=("aws", "aws-cn", "aws-us-gov"), default="aws",
                            help="ARN partition (default aws)")
        parser.add_argument("--kms-key-arn", action="append", default=[], type=_arn("kms", "key"), metavar="ARN",
                            help="the KMS key a source is encrypted with (its KmsKeyId); repeat for several")
        parser.add_argument("--role-arn", action="append", default=[], type=_arn("iam", "role"), metavar="ARN",
                            help="an IAM role associated with a source (clones get it too); repeat for several")
        parser.add_argument("--from-aws", action="store_true",
                            help="read each source's KMS key and IAM roles from AWS (one DescribeDBClusters per target)")

    def run(self, options):
        settings = conf.get_settings(only=USED_SETTINGS)
        targets = settings.select(options["targets"])
        if not targets:
            raise ConfigError("DEVDB['TARGETS'] is empty")
        keys, roles = set(options["kms_key_arn"]), set(options["role_arn"])
        if options["from_aws"]:
            gateway = Gateway(max_attempts=settings.aws_max_attempts)
            for target in targets:
                access = gateway.source_access(target.source_cluster)
                keys.update([access.kms_key_id] if access.kms_key_id else [])
                roles.update(access.role_arns)
        return policy.build(targets, partition=options["partition"], region=options["region"],
                            account=options["account"], source_keys=keys, source_roles=roles)

    def show(self, result, options):
        self.stdout.write(json.dumps(result, indent=2))
