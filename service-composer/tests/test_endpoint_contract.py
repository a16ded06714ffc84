"""The composer's endpoint is the servicecomposer endpoint of occo.util.comm's contract."""

from occo.servicecomposer import ComposerEndpoint, MemoryLookup, ServiceComposer
from occo.util.comm import ServiceComposerEndpoint, methods_of


def test_the_endpoint_serves_every_method_of_the_protocol():
    with ServiceComposer(MemoryLookup()) as composer:
        endpoint = ComposerEndpoint(composer)
        assert isinstance(endpoint, ServiceComposerEndpoint)
        assert endpoint.RPC_METHODS == methods_of(ServiceComposerEndpoint)
