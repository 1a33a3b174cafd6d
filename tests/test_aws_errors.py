"""AWS errors that are not "busy" (issue 18): an outage is waited out, a refusal aborts the clone it hits,
and neither leaves a cluster running that nothing will delete.

Faults are injected into a real Gateway on moto with botocore's `before-call` event: the chosen operation
fails as it would once botocore's own retries are spent (a connection error, a 5xx, AccessDenied), the
others reach moto.
"""

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from devdb import lifecycle
from devdb.aws import Gateway
from devdb.errors import AlreadyExists, AwsError, DevdbError, Unavailable
from devdb.models import CloneRecord

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.seed(production=False)]

SOURCE = "prod-aurora"


class Faults:
    """Make `operation` fail on `gateway`: `times` times from its `after`-th call on (None: always)."""

    def __init__(self, gateway):
        self.rules = []
        self.seen = {}
        self.failed = []
        for client in gateway.clients:
            client.meta.events.register("before-call", self._before)

    def fail(self, operation, error, times=None, after=0):
        self.rules.append({"operation": operation, "error": error, "times": times, "after": after})
        return self

    def _before(self, model, **kwargs):
        count = self.seen[model.name] = self.seen.get(model.name, 0) + 1
        for rule in self.rules:
            if rule["operation"] != model.name or count <= rule["after"] or rule["times"] == 0:
                continue
            if rule["times"] is not None:
                rule["times"] -= 1
            self.failed.append(model.name)
            raise rule["error"](model.name)
        return None


def connection_error(_operation):
    return EndpointConnectionError(endpoint_url="https://rds.us-east-1.amazonaws.com/")


def server_error(operation):
    return ClientError({"Error": {"Code": "InternalFailure", "Message": "We encountered an internal error."},
                        "ResponseMetadata": {"HTTPStatusCode": 500}}, operation)


def access_denied(operation):
    return ClientError({"Error": {"Code": "AccessDenied", "Message": f"not authorized to perform: rds:{operation}"},
                        "ResponseMetadata": {"HTTPStatusCode": 403}}, operation)


def clones(aws):
    """The clusters besides the source, each as (id, devdb:state, instance ids)."""
    found = []
    for cluster_id in aws.cluster_ids():
        if cluster_id == SOURCE:
            continue
        members = [m["DBInstanceIdentifier"] for m in aws.cluster(cluster_id).get("DBClusterMembers", [])]
        found.append((cluster_id, aws.tags(cluster_id).get("devdb:state"), members))
    return found


# --- the Gateway's classification --------------------------------------------------------------------


def test_connection_errors_and_5xx_are_unavailable_and_access_denied_is_not(aws):
    gateway = Gateway(max_attempts=1)
    faults = Faults(gateway)
    faults.fail("DescribeDBClusters", connection_error, times=1).fail("DescribeDBClusters", server_error, times=1)
    faults.fail("DescribeDBClusters", access_denied, times=1)
    with pytest.raises(Unavailable, match="^AWS DescribeDBClusters failed: Could not connect"):
        gateway.source(SOURCE)
    with pytest.raises(Unavailable, match="InternalFailure"):
        gateway.source(SOURCE)
    with pytest.raises(AwsError, match="AccessDenied") as denied:
        gateway.source(SOURCE)
    assert not isinstance(denied.value, Unavailable)
    assert gateway.source(SOURCE).id == SOURCE  # the fourth call reaches moto


def test_an_unreadable_response_is_a_one_line_aws_error(aws):
    """botocore's ResponseParserError is no BotoCoreError: it used to escape as a traceback."""
    gateway = Gateway(max_attempts=1)

    def garbage(response_dict, **kwargs):
        response_dict["body"] = b"<html><body>502 Bad Gateway\n from a proxy</body"

    gateway.rds.meta.events.register("before-parse.rds.DescribeDBClusters", garbage)
    with pytest.raises(AwsError) as caught:
        gateway.source(SOURCE)
    message = str(caught.value)
    assert message.startswith("AWS DescribeDBClusters failed: unreadable response (")
    assert "\n" not in message


def test_add_role_already_there_is_already_exists_with_the_code_aws_sends(aws):
    """botocore: AddRoleToDBCluster's DBClusterRoleAlreadyExistsFault has the error code DBClusterRoleAlreadyExists."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("rds").operation_model("AddRoleToDBCluster")
    codes = {shape.name: shape.metadata["error"]["code"] for shape in model.error_shapes}
    assert codes["DBClusterRoleAlreadyExistsFault"] == "DBClusterRoleAlreadyExists"
    gateway = Gateway(max_attempts=1)
    Faults(gateway).fail("AddRoleToDBCluster", lambda op: ClientError(
        {"Error": {"Code": "DBClusterRoleAlreadyExists", "Message": "Role is already associated."}}, op))
    with pytest.raises(AlreadyExists):
        gateway.add_role(SOURCE, "arn:aws:iam::123456789012:role/s3", "")


# --- the daily job under faults ------------------------------------------------------------------------


def test_a_connection_outage_while_waiting_for_the_clone_is_waited_out(aws, make_engine, clock):
    gateway = Gateway(max_attempts=1)
    # Right after the writer is asked for, AWS is unreachable for five polls of the clone.
    faults = Faults(gateway).fail("DescribeDBClusters", connection_error, times=5, after=2)
    outcome = make_engine(gateway=gateway).refresh()
    assert faults.failed == ["DescribeDBClusters"] * 5
    assert outcome.connected == "dev-20261122"
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    assert aws.record() is not None


def test_a_5xx_on_the_restore_is_retried_not_a_lost_day(aws, make_engine, clock):
    gateway = Gateway(max_attempts=1)
    faults = Faults(gateway).fail("RestoreDBClusterToPointInTime", server_error, times=2)
    outcome = make_engine(gateway=gateway).refresh()
    assert faults.failed == ["RestoreDBClusterToPointInTime"] * 2
    assert outcome.connected == "dev-20261122"


def test_a_5xx_on_the_writer_and_the_tags_is_retried(aws, make_engine, clock):
    gateway = Gateway(max_attempts=1)
    Faults(gateway).fail("CreateDBInstance", server_error, times=2)
    outcome = make_engine(gateway=gateway).refresh()
    assert outcome.connected == "dev-20261122"
    assert [i for _, _, i in clones(aws)] == [["dev-20261122-1"]]


def test_access_denied_on_modify_aborts_and_deletes_the_clone_every_morning(aws, make_engine, clock, devdb_settings,
                                                                             monkeypatch):
    """Three mornings of AccessDenied on ModifyDBCluster (the new master password): each clone is aborted
    and deleted the same run, which exits 1 naming the cause; nothing is left running."""
    monkeypatch.setenv("DEVDB_TEST_CLONE_PASSWORD", "a-new-password-1")
    devdb_settings["TARGETS"]["dev"]["MASTER_PASSWORD_ENV"] = "DEVDB_TEST_CLONE_PASSWORD"
    for morning in range(3):
        gateway = Gateway(max_attempts=1)
        Faults(gateway).fail("ModifyDBCluster", access_denied)
        day = lifecycle.clone_name("dev", lifecycle.utc_day(clock.now()))
        with pytest.raises(DevdbError, match=f"clone {day} aborted: AWS ModifyDBCluster failed: AccessDenied"):
            make_engine(gateway=gateway).refresh()
        assert clones(aws) == [], f"morning {morning + 1} left {clones(aws)}"
        assert CloneRecord.objects.get(cluster_id=day).state == "deleted"
        clock.advance(days=1)


def test_an_error_connecting_does_not_stop_the_cleaning(aws, make_engine, clock):
    """Day 2's clone is ready but Route53 fails: the run still cleans what it can and exits 1."""
    make_engine().refresh()
    clock.advance(days=1)
    gateway = Gateway(max_attempts=1)
    Faults(gateway).fail("ChangeResourceRecordSets", access_denied)
    with pytest.raises(AwsError, match="ChangeResourceRecordSets failed: AccessDenied"):
        make_engine(gateway=gateway).refresh()
    assert aws.tags("dev-20261123")["devdb:state"] == "ready"
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"  # the name still points at it
    # The next morning, with Route53 working again, the name moves and the old clone goes.
    clock.advance(days=1)
    outcome = make_engine().refresh()
    assert outcome.connected == "dev-20261124"
    assert [c for c, _, _ in clones(aws)] == ["dev-20261124"]


def test_an_outage_past_ready_timeout_aborts_and_a_later_run_cleans(aws, make_engine, clock, devdb_settings):
    devdb_settings["TARGETS"]["dev"]["READY_TIMEOUT"] = 600
    gateway = Gateway(max_attempts=1)
    # DescribeDBClusters fails from the writer's creation on, for longer than READY_TIMEOUT; tagging works.
    Faults(gateway).fail("DescribeDBClusters", connection_error, after=2)
    started = clock.now()
    with pytest.raises(DevdbError, match="dev-20261122"):
        make_engine(gateway=gateway).refresh()
    assert clock.now() >= started + timedelta(seconds=600)  # waited until READY_TIMEOUT, not given up at once
    assert aws.tags("dev-20261122")["devdb:state"] == "aborted"
    clock.advance(days=1)
    outcome = make_engine().refresh()  # AWS back: tomorrow's clone is connected, the aborted one deleted
    assert outcome.connected == "dev-20261123"
    assert [c for c, _, _ in clones(aws)] == ["dev-20261123"]
