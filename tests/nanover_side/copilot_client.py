"""NanoVer's official client beside a costeer co-pilot: what it sees in the shared state, and the mode command.

Runs inside NanoVer's side venv. Connects with ``ObservingClient`` (NanoVer's
``NanoverImdClient``), waits for the co-pilot's interaction (parsed by NanoVer's own
``dict_to_interaction``), lists the commands, switches the co-pilot to ``suggest`` with
``copilot/mode``, waits for the suggestion and its pull to go, and prints one JSON object.

    python copilot_client.py --url ws://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from observer import ObservingClient

COPILOT_INTERACTION = "interaction.costeer-copilot"
STATUS = "costeer.copilot"
SUGGESTION = "costeer.copilot.suggestion"


def observe(url: str, timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with ObservingClient.connect(url) as client:
        client.wait_frame(timeout=timeout)
        state = client.wait_state(lambda state: COPILOT_INTERACTION in state and STATUS in state, timeout=timeout)
        pull = client.interactions[COPILOT_INTERACTION]  # NanoVer's own parse of the entry
        out["interaction"] = {
            "particles": [int(i) for i in pull.particles],
            "position": [float(x) for x in pull.position],
            "type": pull.interaction_type,
            "scale": float(pull.scale),
            "max_force": float(pull.max_force),
            "label": state[COPILOT_INTERACTION].get("label"),
            "owner": state[COPILOT_INTERACTION].get("owner.id"),
        }
        out["status_before"] = state[STATUS]
        listed = client.run_command_blocking("commands/list")
        out["commands"] = {command["name"]: command for command in listed.get("commands", [])}
        out["command_names"] = sorted(client.commands)
        out["mode_reply"] = client.run_command_blocking("copilot/mode", mode="suggest")
        state = client.wait_state(lambda state: SUGGESTION in state and COPILOT_INTERACTION not in state, timeout=timeout)
        out["suggestion"] = state[SUGGESTION]
        out["status_after"] = state[STATUS]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(observe(args.url, args.timeout)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
