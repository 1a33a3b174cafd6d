"""What a devdb.aws.Gateway asks AWS, and what the account looks like, for tests to assert on.

`Requests` records calls with botocore's `provide-client-params` event: the parameters exactly as
devdb passed them, before botocore validates or serializes them (and before a Stubber or a fault
hook answers in `before-call`).
"""

import copy

from devdb.aws import Gateway

READ_ONLY = ("Describe", "List", "Get")


def on_request(gateway, handler):
    """Call handler(operation, params, service) as each of the gateway's clients starts a request."""
    for client in gateway.clients:
        service = client.meta.service_model.service_name
        client.meta.events.register(
            "provide-client-params", lambda params, model, _service=service, **_: handler(model.name, params, _service))


class Requests(list):
    """(operation, params) of every request the watched gateways make, in order."""

    def __init__(self, *gateways):
        super().__init__()
        for gateway in gateways:
            self.watch(gateway)

    def watch(self, gateway):
        on_request(gateway, lambda operation, params, _: self.append((operation, copy.deepcopy(params))))
        return gateway

    def operations(self):
        return [operation for operation, _ in self]

    def named(self, operation):
        return [params for name, params in self if name == operation]

    def mutating(self):
        return [(operation, params) for operation, params in self if not operation.startswith(READ_ONLY)]


def recorded_gateway():
    """A Gateway on the current AWS endpoint, and the Requests it makes."""
    gateway = Gateway(max_attempts=3)
    return gateway, Requests(gateway)


def _pages(client, method, key, **kwargs):
    return [item for page in client.get_paginator(method).paginate(**kwargs) for item in page[key]]


def _tags(item):
    return sorted((t["Key"], t["Value"]) for t in item.get("TagList", []))


def account_state(aws):
    """Everything a devdb change could alter: each cluster's status, tags and writer, each instance's
    status, cluster and tags, and every record of the zone. `aws` is anything with `rds`, `route53`
    and `zone_id` (the `aws` fixture, an example project on the moto server)."""
    return {
        "clusters": {c["DBClusterIdentifier"]: (c["Status"], _tags(c),
                                                sorted(m["DBInstanceIdentifier"] for m in c.get("DBClusterMembers", [])))
                     for c in _pages(aws.rds, "describe_db_clusters", "DBClusters")},
        "instances": {i["DBInstanceIdentifier"]: (i["DBInstanceStatus"], i["DBClusterIdentifier"], _tags(i))
                      for i in _pages(aws.rds, "describe_db_instances", "DBInstances")},
        "records": _pages(aws.route53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=aws.zone_id),
    }
