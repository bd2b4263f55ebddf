"""TLS with the user's certificate and key: two node processes on loopback serving HTTPS with
a self-signed certificate (a throwaway CA from trustme); a client that trusts the CA is
answered, one that does not is refused, and a push between the nodes goes over TLS."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
import trustme
from _nodes import NodeProcess, introduce, make_node, wait_for

pytestmark = pytest.mark.slow

SHARE_ALL = """
[[rule]]
id = "all"
effect = "permit"
subjects = ["dc"]
rights = ["push"]
keep_attributes = ["*"]
share_objects = ["*"]
"""


def test_nodes_serve_and_push_over_tls(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    chain, key = tmp_path / "node.pem", tmp_path / "node.key"
    cert.cert_chain_pems[0].write_to_path(str(chain))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(chain), append=True)
    cert.private_key_pem.write_to_path(str(key))

    plant, dc = make_node(tmp_path, "plant"), make_node(tmp_path, "dc")
    for n in (plant, dc):
        n.scheme = "https"
        n.home.set_url(n.url)
        n.extra_args = ["--tls-cert", str(chain), "--tls-key", str(key), "--ca", str(ca_file)]
    introduce(plant, dc)
    plant.home.policy_path.write_text(SHARE_ALL, encoding="utf-8")
    nodes.extend([plant, dc])

    # start() polls with a client; it must trust the CA
    original = NodeProcess.client

    def trusting(self: NodeProcess, **kwargs: object) -> httpx.Client:
        return original(self, verify=ssl.create_default_context(cafile=str(ca_file)), **kwargs)

    NodeProcess.client = trusting  # type: ignore[method-assign]
    try:
        plant.start()
        dc.start()
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the CA
            httpx.get(plant.url + "/", timeout=10)
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port
            httpx.get(plant.url.replace("https", "http") + "/", timeout=10)
        body = (
            Path(__file__).resolve().parents[2]
            / "src/keiretsu/examples/two-company-chain/1-sakura-foods-plant.jsonld"
        ).read_bytes()
        assert plant.capture(body)["success"]
        wait_for(
            lambda: dc.summary()["store"]["events"] == plant.summary()["store"]["events"],
            30,
            "the push over TLS",
        )
    finally:
        NodeProcess.client = original  # type: ignore[method-assign]
