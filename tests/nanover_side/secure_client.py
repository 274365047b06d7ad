"""NanoVer's official client against a server over wss and/or with a token; prints what it saw as JSON.

Runs inside NanoVer's side venv. NanoVer's client (``NanoverImdClient.from_url``) opens
wss with websockets' default context, which trusts the system's CAs and ``SSL_CERT_FILE``:
the test points that at the server's self-signed certificate. A token rides in the URL's
query (``wss://host:port/?token=T``), the only way this client can send one.

    SSL_CERT_FILE=cert.pem python secure_client.py frames  --url wss://127.0.0.1:PORT
    python secure_client.py refused --url ws://127.0.0.1:PORT/?token=wrong
    python secure_client.py steer   --url ws://127.0.0.1:PORT/?token=T
    SSL_CERT_FILE=cert.pem python secure_client.py discover --name NAME --discovery-port UDP
"""

from __future__ import annotations

import argparse
import json
import ssl
import time

from nanover.websocket import NanoverImdClient
from websockets.exceptions import InvalidStatus

POSITIONS = "particle.positions"


def frames(url: str) -> dict:
    """Connect, wait for frames with positions, report the particle count and frames seen."""
    client = NanoverImdClient.from_url(url)
    try:
        deadline = time.monotonic() + 30
        while POSITIONS not in client.current_frame.frame_dict or len(client.frames) < 5:
            if time.monotonic() > deadline:
                raise SystemExit(f"no frames with positions from {url} within 30 s")
            time.sleep(0.05)
        frame = client.current_frame
        return {"particle_count": frame.particle_count, "frames": len(client.frames), "state_keys": sorted(client.copy_state())}
    finally:
        client.close()


def refused(url: str) -> dict:
    """Try to connect; report the HTTP status and body of the refusal (or the certificate's)."""
    try:
        client = NanoverImdClient.from_url(url)
    except InvalidStatus as error:
        return {"status": error.response.status_code, "body": error.response.body.decode()}
    except ssl.SSLCertVerificationError as error:
        return {"status": "untrusted certificate", "body": str(error)}
    client.close()
    return {"status": 101, "body": ""}


def steer(url: str) -> dict:
    """Pause then play through NanoVer's own playback client; report each outcome (or refusal)."""
    client = NanoverImdClient.from_url(url)
    outcomes = {}
    try:
        client.wait_until_first_frame(timeout=30)
        for name, run in (("pause", client.run_pause), ("play", client.run_play)):
            try:
                run()
                outcomes[name] = "ok"
            except Exception as error:  # the server's exception reply
                outcomes[name] = str(error)
        return outcomes
    finally:
        client.close()


def discover(name: str, discovery_port: int) -> dict:
    """Find the server by ESSD on loopback, as NanoVer's client does (``wss`` before ``ws``), and watch it."""
    from nanover.essd import DiscoveryClient

    with DiscoveryClient("127.0.0.1", discovery_port) as discovery:
        hub = next((hub for hub in discovery.search_for_services(search_time=20.0) if hub.name == name), None)
    if hub is None:
        raise SystemExit(f"no server named {name!r} announced on UDP {discovery_port}")
    scheme = "wss" if hub.get_service_address("wss") else "ws"
    host, port = hub.get_service_address(scheme)
    return {"services": hub.properties["services"], "url": f"{scheme}://{host}:{port}", **frames(f"{scheme}://{host}:{port}")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=("frames", "refused", "steer", "discover"))
    parser.add_argument("--url")
    parser.add_argument("--name", help="discover: the server's name")
    parser.add_argument("--discovery-port", type=int, help="discover: the UDP port it announces on")
    args = parser.parse_args()
    if args.scenario == "discover":
        print(json.dumps(discover(args.name, args.discovery_port)))
        return
    print(json.dumps({"frames": frames, "refused": refused, "steer": steer}[args.scenario](args.url)))


if __name__ == "__main__":
    main()
