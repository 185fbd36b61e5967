"""End-to-end fixtures: the services as real processes behind the nginx gateway."""

import httpx
import pytest

from trellis_infra.stack import SERVICES


@pytest.fixture(scope="module")
def platform(stack):
    """Every service running as its own process, and the gateway in front of them."""
    for service in SERVICES:
        stack.start_service(service, wait=False)
    for service in SERVICES:
        stack.wait_ready(service)
    stack.gateway.start()
    yield stack
    for service in SERVICES:
        stack.stop_service(service)


@pytest.fixture
async def gateway(platform):
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        yield client
