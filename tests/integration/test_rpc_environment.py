"""The RPC client honours the proxy settings of the node's environment, read once when it starts.

requests would read them (and ~/.netrc) again for every request; the node reads them when it builds a
provider (node.chain.providers), so these check that what an operator configures still applies.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from node.chain.providers import connect_pool
from tests.conftest import Deployment
from tests.rpc_proxy import RpcProxy


@pytest.fixture
def http_proxy(deployment: Deployment) -> Iterator[RpcProxy]:
    # RpcProxy forwards any JSON-RPC POST to the Anvil, whatever the request line names: an HTTP proxy.
    proxy = RpcProxy(deployment.rpc_url)
    yield proxy
    proxy.close()


def test_http_proxy_from_the_environment_carries_every_request(
    deployment: Deployment, http_proxy: RpcProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", http_proxy.url)
    w3 = connect_pool([deployment.rpc_url])
    monkeypatch.delenv("HTTP_PROXY")  # read when the provider was built: later changes do not matter
    for _ in range(3):
        assert w3.eth.block_number >= 1
    assert http_proxy.methods["eth_blockNumber"] == 3
    assert w3.eth.chain_id == 31337
    asked = http_proxy.methods["eth_chainId"]
    assert all(w3.eth.chain_id == 31337 for _ in range(5))
    assert http_proxy.methods["eth_chainId"] == asked  # remembered: not asked again


def test_no_proxy_from_the_environment_bypasses_it(
    deployment: Deployment, http_proxy: RpcProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", http_proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    w3 = connect_pool([deployment.rpc_url])
    assert w3.eth.block_number >= 1
    assert http_proxy.requests == 0
