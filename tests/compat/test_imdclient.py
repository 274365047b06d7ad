"""MDAnalysis' real ``imdclient`` (and an MDAnalysis Universe on ``imd://``) against ``costeer serve --imd-port``.

The server runs NanoVer's nanotube (65 atoms) in a subprocess with IMD v3 and v2 ports
beside its WebSocket; a WebSocket reader records every frame it gets, and the IMD frames
must carry the same positions (Å = 10 x nm), box, time and energies (kcal/mol in v2).
"""

from __future__ import annotations

import itertools
import re
import signal
import socket
import threading
import time
from typing import Any, Iterator

import msgpack
import numpy as np
import pytest
from websockets.sync.client import connect

from costeer.core import keys
from costeer.core.frame import merge_frames, unpack_frame
from costeer.engine.export import export_topology_pdb
from costeer.engine.nanover_xml import read_nanover_xml
from costeer.server.imd.codec import HEADER_BYTES, MessageType, header, mdcomm, read_handshake
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ATOMS = 65
PULLED = 60
IMD_LINE = re.compile(r"costeer serving (imd\d?) on \S+:(\d+)")
WAIT = 30.0
"""Seconds to wait for what the server sends (the first frames come after OpenMM's set-up)."""


class WebSocketFrames(threading.Thread):
    """Reads a costeer server's WebSocket frames in the background, keeping each by simulation time."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.connection = connect(url, max_size=None, compression=None).__enter__()
        self.lock = threading.Lock()
        self.by_time: dict[float, dict[str, Any]] = {}
        self.latest: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self.start()

    def run(self) -> None:
        merged: dict[str, Any] = {}
        try:
            for data in self.connection:
                message = msgpack.unpackb(data)
                if "state" in message:
                    with self.lock:
                        self.state.update(message["state"]["updates"])
                        for key in message["state"]["removals"]:
                            self.state.pop(key, None)
                if "frame" not in message:
                    continue
                merged = merge_frames(merged, message["frame"])
                frame = unpack_frame(merged)
                with self.lock:
                    self.latest = frame
                    self.by_time[round(float(frame[keys.SIMULATION_TIME]), 6)] = frame
        except Exception:
            pass

    def frame_at(self, time_ps: float) -> dict[str, Any] | None:
        with self.lock:
            return self.by_time.get(round(float(time_ps), 6))

    def frames(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.by_time.values())

    def command(self, name: str) -> None:
        self.connection.send(msgpack.packb({"command": {"request": {"name": name, "arguments": {}, "id": next(self._ids)}}}))

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def served(request, costeer_server, nanotube_xml) -> Iterator[tuple[Any, dict[str, int], WebSocketFrames]]:
    extra = getattr(request, "param", ())
    server = costeer_server("--omm", str(nanotube_xml), "--imd-port", "0", "--imd-v2-port", "0",
                            "--platform", "CPU", "--cpu-threads", "1", *extra)
    deadline = time.monotonic() + 30
    ports: dict[str, int] = {}
    while len(ports) < 2 and time.monotonic() < deadline:
        ports = {m.group(1): int(m.group(2)) for line in list(server.stdout) if (m := IMD_LINE.search(line))}
        time.sleep(0.05)
    assert len(ports) == 2, server.output()
    frames = WebSocketFrames(server.url)
    wait_until(lambda: frames.frames(), WAIT)
    yield server, ports, frames
    frames.close()


@pytest.fixture
def main_thread_signals() -> Iterator[None]:
    """imdclient installs its own SIGINT/SIGTERM handlers; put pytest's back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _copy(frame) -> dict[str, Any]:
    return {
        "time": frame.time, "dt": frame.dt, "step": frame.step, "positions": frame.positions.copy(),
        "box": None if frame.box is None else frame.box.copy(),
        "velocities": None if frame.velocities is None else frame.velocities.copy(),
        "forces": None if frame.forces is None else frame.forces.copy(),
        "energies": None if frame.energies is None else dict(frame.energies),
    }


def test_imdclient_v3_frames_equal_the_websocket_frames(served, main_thread_signals):
    from imdclient.IMDClient import IMDClient

    server, ports, ws = served
    client = IMDClient("127.0.0.1", ports["imd"], ATOMS, timeout=10)
    try:
        info = client.get_imdsessioninfo()
        assert (info.version, info.time, info.energies, info.box, info.positions) == (3, True, True, True, True)
        received = [_copy(client.get_imdframe()) for _ in range(30)]
    finally:
        client.stop()
    steps = [frame["step"] for frame in received]
    assert all(later > earlier for earlier, later in zip(steps, steps[1:]))
    wait_until(lambda: ws.frame_at(received[-1]["time"]) is not None, WAIT)
    matched = 0
    for frame in received:
        reference = ws.frame_at(frame["time"])
        if reference is None:  # the WebSocket reader got a later frame merged with this one
            continue
        matched += 1
        expected = reference[keys.PARTICLE_POSITIONS] * np.float32(10.0)
        np.testing.assert_allclose(frame["positions"], expected, rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(frame["box"], reference[keys.BOX_VECTORS] * 10.0, rtol=1e-6)
        assert frame["step"] == reference[keys.SIMULATION_STEP]
        assert frame["dt"] == pytest.approx(reference[keys.SIMULATION_TIMESTEP])
        assert frame["energies"]["potential_energy"] == pytest.approx(reference[keys.POTENTIAL_ENERGY], rel=1e-5)
    assert matched >= 10, f"only {matched} of 30 IMD frames found among the WebSocket frames"


@pytest.mark.parametrize("served", [("--include-velocities", "--include-forces")], indirect=True)
def test_velocities_and_forces_go_to_imd_when_the_session_serves_them(served, main_thread_signals):
    from imdclient.IMDClient import IMDClient

    server, ports, ws = served
    client = IMDClient("127.0.0.1", ports["imd"], ATOMS, timeout=10)
    try:
        info = client.get_imdsessioninfo()
        assert (info.velocities, info.forces) == (True, True)
        received = [_copy(client.get_imdframe()) for _ in range(15)]
    finally:
        client.stop()
    wait_until(lambda: ws.frame_at(received[-1]["time"]) is not None, WAIT)
    matched = [(frame, ws.frame_at(frame["time"])) for frame in received if ws.frame_at(frame["time"])]
    assert len(matched) >= 5
    for frame, reference in matched:  # Å/ps and kJ/(mol Å)
        np.testing.assert_allclose(frame["velocities"], reference[keys.PARTICLE_VELOCITIES] * np.float32(10.0), rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(frame["forces"], reference[keys.PARTICLE_FORCES_SYSTEM] * np.float32(0.1), rtol=1e-5, atol=1e-4)


def test_mdanalysis_universe_on_imd_lines_up_with_the_exported_topology(served, nanotube_xml, tmp_path, main_thread_signals):
    import MDAnalysis

    server, ports, ws = served
    topology = tmp_path / "nanotube.pdb"
    export_topology_pdb(read_nanover_xml(nanotube_xml), topology)
    universe = MDAnalysis.Universe(str(topology), f"imd://127.0.0.1:{ports['imd']}", timeout=10)
    try:
        assert universe.atoms.n_atoms == ATOMS
        seen = []
        for index, ts in enumerate(universe.trajectory):
            seen.append((ts.time, ts.data["step"], ts.positions.copy(), ts.data["potential_energy"]))
            if index == 9:
                break
    finally:
        universe.trajectory.close()
    wait_until(lambda: ws.frame_at(seen[-1][0]) is not None, WAIT)
    matched = [(positions, ws.frame_at(time_ps)) for time_ps, _, positions, _ in seen if ws.frame_at(time_ps)]
    assert len(matched) >= 3
    for positions, reference in matched:
        np.testing.assert_allclose(positions, reference[keys.PARTICLE_POSITIONS] * np.float32(10.0), rtol=1e-6, atol=1e-5)


def test_imdclient_v2_session_gets_positions_and_energies_in_kcal(served, main_thread_signals):
    from imdclient.IMDClient import IMDClient

    server, ports, ws = served
    client = IMDClient("127.0.0.1", ports["imd2"], ATOMS, timeout=10)
    try:
        assert client.get_imdsessioninfo().version == 2
        received = [_copy(client.get_imdframe()) for _ in range(10)]
    finally:
        client.stop()
    time.sleep(0.5)
    references = ws.frames()
    potentials = np.array([frame[keys.POTENTIAL_ENERGY] for frame in references])
    for frame in received:
        match = [ref for ref in references
                 if np.allclose(frame["positions"], ref[keys.PARTICLE_POSITIONS] * np.float32(10.0), rtol=1e-6, atol=1e-5)]
        assert match, "an IMD v2 frame whose positions no WebSocket frame had"
        kilojoules = frame["energies"]["potential_energy"] * 4.184
        assert np.isclose(potentials, kilojoules, rtol=1e-5).any()


def test_mdcomm_forces_move_atoms_and_go_with_the_client(served):
    server, ports, ws = served
    pull = socket.create_connection(("127.0.0.1", ports["imd"]), timeout=10)
    drained = threading.Event()

    def drain() -> None:  # a client reads what it is sent
        try:
            while pull.recv(1 << 16):
                pass
        except OSError:
            pass
        drained.set()

    version, order = read_handshake(pull.recv(HEADER_BYTES, socket.MSG_WAITALL))
    assert version == 3
    threading.Thread(target=drain, daemon=True).start()
    start = ws.latest[keys.PARTICLE_POSITIONS][PULLED].copy()
    force = 50.0  # kJ/(mol Å) along +x: 500 kJ/(mol nm)
    pull.sendall(header(MessageType.GO) + mdcomm([PULLED], [[force, 0.0, 0.0]]))

    def pulled() -> bool:
        frame = ws.latest
        index = frame.get(keys.USER_FORCES_INDEX)
        return index is not None and PULLED in index.tolist()

    wait_until(pulled, WAIT)
    frame = ws.latest
    row = frame[keys.USER_FORCES_INDEX].tolist().index(PULLED)
    np.testing.assert_allclose(frame[keys.USER_FORCES_SPARSE][row], [force * 10.0, 0.0, 0.0], rtol=1e-6)
    wait_until(lambda: ws.latest[keys.PARTICLE_POSITIONS][PULLED][0] - start[0] > 0.5, WAIT)  # nm
    with ws.lock:
        assert any(key.startswith("interaction.imd-") for key in ws.state)

    pull.close()
    wait_until(lambda: not any(key.startswith("interaction.imd-") for key in ws.state), WAIT)
    wait_until(lambda: not pulled(), WAIT)
    time_before = ws.latest[keys.SIMULATION_TIME]
    wait_until(lambda: ws.latest[keys.SIMULATION_TIME] > time_before, WAIT)  # the simulation runs on
