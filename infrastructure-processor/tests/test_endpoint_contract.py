"""The processor is the infraprocessor endpoint of occo.util.comm's contract."""

from occo.infobroker import MemoryStore
from occo.infraprocessor import Processor
from occo.util.comm import InProcessTransport, ProcessorEndpoint, methods_of


def test_the_processor_serves_every_method_of_the_protocol():
    with InProcessTransport() as transport:
        processor = Processor(MemoryStore(), cloud=transport.client("cloudhandler"),
                              composer=transport.client("servicecomposer"))
        assert isinstance(processor, ProcessorEndpoint)
        assert processor.RPC_METHODS == methods_of(ProcessorEndpoint)
