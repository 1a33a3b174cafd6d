"""AWS's limits, checked before the first change (issue 18.2 and 18.4): identifier lengths, the case of
SOURCE_CLUSTER, Aurora's 15 copy-on-write clones per source, Serverless v2's maximum capacity per version."""

from datetime import date

import pytest

from devdb import conf, lifecycle, preflight
from devdb.aws import Cluster, Gateway
from devdb.engine import Branch
from devdb.errors import ConfigError
from tests.aws_calls import Requests

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.seed(production=False)]


# --- identifier lengths ----------------------------------------------------------------------------------


def test_the_longest_prefix_makes_every_daily_id_fit(aws, make_engine, devdb_settings, clock):
    """A 52-character prefix: the clone is 61 characters, its writer 63; the whole morning works."""
    prefix = "p" * 52
    devdb_settings["TARGETS"]["dev"]["CLONE_PREFIX"] = prefix
    outcome = make_engine().refresh()
    clone = lifecycle.clone_name(prefix, date(2026, 11, 22))
    assert outcome.connected == clone
    assert f"{clone}-1" in aws.instance_ids() and len(f"{clone}-1") == 63


def test_a_branch_name_whose_reset_writer_is_too_long_is_refused_before_any_call(aws, devdb_settings):
    """<prefix>-<NAME>-rYYMMDDhhmmss is 63 characters here, but its writer (-1) would be 65."""
    devdb_settings["TARGETS"]["dev"]["CLONE_PREFIX"] = "p" * 40
    settings = conf.get_settings()
    gateway = Gateway(max_attempts=1)
    calls = Requests(gateway)
    with pytest.raises(ConfigError, match=r"^NAME: branch feature1 of 'dev' would have writers named "
                                          r"p{40}-feature1-rYYMMDDhhmmss-1, which must be at most 63 characters \(got 65\)"):
        Branch(settings.targets["dev"], gateway, settings, "feature1")
    assert calls == []
    Branch(settings.targets["dev"], gateway, settings, "feat1")  # 62 characters at most: fine


def test_the_sandbox_refuses_an_identifier_longer_than_aws_allows(aws):
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError, match="InvalidParameterValue"):
        aws.rds.create_db_instance(DBInstanceIdentifier="i" * 64, DBClusterIdentifier="prod-aurora",
                                   DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")
