"""``abft-qkd kms pki`` and ``abft-qkd kms serve`` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import httpx
import pytest

from network.kms.cli import parse_sae
from network.kms.pki import client_ssl_context, read_pki_map

CLI = [sys.executable, "-c", "import sys; from qkdcircuits.cli import main; sys.exit(main())"]


def test_parse_sae():
    assert parse_sae("bob@eed-user") == ("bob", "eed-user")
    for bad in ("bob", "@x", "bob@", "a@b@c"):
        with pytest.raises(ValueError, match="NAME@NODE"):
            parse_sae(bad)


def test_pki_command_rejects_a_node_outside_the_topology(tmp_path):
    out = subprocess.run(
        [*CLI, "kms", "pki", "--out", str(tmp_path), "--sae", "a@nowhere", "--topology", "tokyo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "nowhere" in out.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_serve_prints_addresses_and_delivers_a_key_pair(tmp_path):
    pki = tmp_path / "pki"
    made = subprocess.run(
        [
            *CLI,
            "kms",
            "pki",
            "--out",
            str(pki),
            "--sae",
            "alice@crl-user",
            "--sae",
            "bob@eed-user",
            "--topology",
            "cambridge",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    saes, kmes = read_pki_map(pki)
    assert saes == {"alice": "crl-user", "bob": "eed-user"} and len(kmes) == 6

    server = subprocess.Popen(
        [
            *CLI,
            "kms",
            "serve",
            "--topology",
            "cambridge",
            "--pki",
            str(pki),
            "--clock",
            "fast",
            "--prefill-s",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()
        assert line, server.stderr.read()
        listing = json.loads(line)
        assert listing["saes"] == saes and set(listing["kmes"]) == set(kmes)
        alice_port = listing["kmes"]["crl-user"].rsplit(":", 1)[1]
        bob_port = listing["kmes"]["eed-user"].rsplit(":", 1)[1]
        with httpx.Client(verify=client_ssl_context(pki, "alice"), timeout=30) as alice:
            sent = alice.post(
                f"https://localhost:{alice_port}/api/v1/keys/bob/enc_keys", json={"size": 256}
            )
        assert sent.status_code == 200, sent.text
        key = sent.json()["keys"][0]
        with httpx.Client(verify=client_ssl_context(pki, "bob"), timeout=30) as bob:
            got = bob.get(
                f"https://localhost:{bob_port}/api/v1/keys/alice/dec_keys",
                params={"key_ID": key["key_ID"]},
            )
        assert got.status_code == 200 and got.json()["keys"][0]["key"] == key["key"]
        # The pools keep filling: the fast clock runs the network 10x faster than wall time.
        time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, err = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode == 0, err
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("stopped after")
    ledger = json.loads(summary.split("key ledger: ", 1)[1])
    assert ledger["delivered_bits"] >= 256 * 2  # two hops of 256 bits at least
    assert float(summary.split()[2]) > 0.5  # simulated seconds beyond the prefill
