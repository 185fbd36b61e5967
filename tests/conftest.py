"""End-to-end fixtures: the services as real processes behind the nginx gateway."""

import httpx
import pytest

from trellis_infra.pytest_plugin import processes_with


@pytest.fixture(scope="module")
def platform(stack):
    """Every service running as its own process, and the gateway in front of them."""
    with processes_with(stack) as running:
        yield running


@pytest.fixture
async def gateway(platform):
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        yield client
