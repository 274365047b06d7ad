"""NanoVer's official client against a server over wss and/or with a token; prints what it saw as JSON.

Runs inside NanoVer's side venv. NanoVer's client (``NanoverImdClient.from_url``) opens
wss with websockets' default context, which trusts the system's CAs and ``SSL_CERT_FILE``:
the test points that at the server's self-signed certificate. A token rides in the URL's
query (``wss://host:port/?token=T``), the only way this client can send one.

    SSL_CERT_FILE=cert.pem python secure_client.py frames  --url wss://127.0.0.1:PORT
    python secure_client.py refused --url ws://127.0.0.1:PORT/?token=wrong
    python secure_client.py steer   --url ws://127.0.0.1:PORT/?token=T
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=("frames", "refused", "steer"))
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    print(json.dumps({"frames": frames, "refused": refused, "steer": steer}[args.scenario](args.url)))


if __name__ == "__main__":
    main()
