import argparse
import json
import re

from ... import conf, policy
from ...errors import ConfigError
from ..base import DevdbCommand


def _account(text):
    if text != "*" and not re.fullmatch(r"\d{12}", text):
        raise argparse.ArgumentTypeError(f"must be a 12-digit AWS account id or *, got {text!r}")
    return text


def _region(text):
    if text != "*" and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", text):
        raise argparse.ArgumentTypeError(f"must be an AWS region such as eu-west-1, or *, got {text!r}")
    return text


class Command(DevdbCommand):
    help = ("Print the least-privilege IAM policy (JSON) django-devdb needs for the configured targets: "
            "deletes only of resources tagged devdb:managed-by=django-devdb, Route53 only on the configured zones.")
    dry_run = False

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--account", type=_account, default="*", metavar="ACCOUNT_ID",
                            help="AWS account id to put in the RDS ARNs (default *)")
        parser.add_argument("--region", type=_region, default="*", help="AWS region to put in the RDS ARNs (default *)")
        parser.add_argument("--partition", choices=("aws", "aws-cn", "aws-us-gov"), default="aws",
                            help="ARN partition (default aws)")

    def run(self, options):
        targets = conf.get_settings().select(options["targets"])
        if not targets:
            raise ConfigError("DEVDB['TARGETS'] is empty")
        return policy.build(targets, partition=options["partition"], region=options["region"], account=options["account"])

    def show(self, result, options):
        # JSON with or without --json: the output is meant for `aws iam put-role-policy` or Terraform.
        self.stdout.write(json.dumps(result, indent=2))
