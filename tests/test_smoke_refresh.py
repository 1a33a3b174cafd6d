import pytest
from django.core.management import call_command

from devdb.models import CloneRecord

pytestmark = pytest.mark.django_db(databases="__all__")


def test_refresh_creates_and_connects_todays_clone(aws, make_engine):
    engine = make_engine()
    engine.refresh()
    assert "dev-20261122" in aws.cluster_ids()
    assert aws.tags("dev-20261122")["devdb:state"] == "connected"
    assert aws.record() == aws.cluster("dev-20261122")["Endpoint"]
    assert CloneRecord.objects.get().state == "connected"
