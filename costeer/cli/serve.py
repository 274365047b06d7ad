"""``costeer serve``: run simulations for NanoVer clients (VR headsets, scripts), recorded."""

from __future__ import annotations

import argparse
import hashlib
import math
import platform as host_platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..server.access import AccessPolicy
from ..server.grpc import DEFAULT_PORT as DEFAULT_GRPC_PORT
from ..core.interaction import DEFAULT_MAX_FORCE
from .copilot import add_copilot_options, copilot_settings, load_copilot_policy
from .files import existing_file, new_recording
from .numbers import port, seed

if TYPE_CHECKING:
    from ..server.tls import TlsCredentials

__all__ = ["add_parser", "add_simulation_options", "build_simulations", "describe_session", "session_info", "parse_labels"]

DEFAULT_TASK = "nanotube"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve simulations over NanoVer's WebSocket protocol",
        description="Serve interactive simulations to NanoVer clients. With no system given, "
        f"serves the built-in '{DEFAULT_TASK}' task. For headsets on the LAN use "
        "--address 0.0.0.0 --discovery and open TCP 38801 and UDP 54545.",
    )
    add_simulation_options(parser)
    net = parser.add_argument_group("network")
    net.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for the LAN)")
    net.add_argument("--port", type=port, default=38801, help="WebSocket port (default 38801; 0 picks a free one)")
    net.add_argument("--grpc-port", type=port, nargs="?", const=DEFAULT_GRPC_PORT, default=None, metavar="PORT", help="also serve legacy Narupa / NanoVer (to 2025-09) headsets over gRPC on PORT (off by default; alone: %(const)s, as 38801 is the WebSocket's; 0 picks a free one); needs the grpc extra")
    net.add_argument("--discovery", action="store_true", help="announce the server by ESSD on UDP 54545 (broadcasts to the LAN)")
    net.add_argument("--name", default="costeer", help="server name shown to clients")
    net.add_argument("--remote", metavar="URL", help="also serve through the hub at URL (ws://HOST:PORT or wss://; e.g. nanover-server with no simulation on a reachable host): the simulation runs here, frames go up, the hub's users' interactions and commands come back; reconnects if the hub goes away; still listens locally on --address:--port (another --port if the hub runs on this host)")
    net.add_argument("--cloud-discovery", metavar="HOST", help="list the server's ws/wss/https URLs (with --remote: the hub's) on the discovery service at HOST (wss://HOST/, as NanoVer; a ws:// or wss:// URL for a local service) while serving; the server runs on without it")
    net.add_argument("--imd-port", type=port, metavar="PORT", help="also serve IMD v3 here, for MDAnalysis/imdclient (off by default; GROMACS and NAMD use 8888; topology: costeer export --topology)")
    net.add_argument("--imd-v2-port", type=port, metavar="PORT", help="also serve IMD v2 here, for VMD 1.9 (off by default)")
    secure = parser.add_argument_group("TLS and access (off by default: anyone reaching the port steers, as with NanoVer)")
    secure.add_argument("--ssl", nargs="+", metavar="CERT KEY [PASSWORD]", help="serve wss (and https for the page) on the WebSocket port, and TLS on --grpc-port, with this PEM certificate (chain) and key (and the key's password); discovery announces wss")
    secure.add_argument("--ssl-auto", action="store_true", help="as --ssl with a self-signed certificate for this machine, made once and kept in ~/.cache/costeer/tls (clients must be told to trust it)")
    secure.add_argument("--token", metavar="TOKEN", help="refuse clients without this token (HTTP 401), on every port; default: $COSTEER_TOKEN. Clients send ?token=TOKEN or 'Authorization: Bearer TOKEN'; NanoVer's XR client cannot; IMD ports then listen on 127.0.0.1 only")
    secure.add_argument("--viewer-token", metavar="TOKEN", help="admit clients with this token as viewers: frames and state, but their state changes and commands are refused; needs --token; default: $COSTEER_VIEWER_TOKEN")
    net.add_argument("--web-port", type=port, metavar="PORT", help="also serve the web page on PORT (it is always served on the WebSocket's port: http://ADDRESS:PORT/)")
    net.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN", help="let web pages from ORIGIN (scheme://host:port) open WebSocket connections too (repeatable); by default only the server's own page and clients that send no Origin (headsets, Python) may connect")
    net.add_argument("--mqtt", metavar="HOST:PORT", help="publish events (clients, interactions, co-pilot, task, recording, metrics) to this MQTT broker on costeer/<name>/<kind>; the server runs on without it")
    parser.add_argument("--on-blowup", choices=("recover", "pause"), default="recover", help="when the simulation blows up: roll back to a recent good state, release the pulls and run on (default), or pause as NanoVer does (then playback/reset and playback/play)")
    pilot = parser.add_argument_group("co-pilot (a trained policy beside the people; switched live by copilot/mode)")
    pilot.add_argument("--copilot", type=Path, metavar="CKPT", help="run this policy checkpoint as an in-process co-pilot (shipped: costeer/agent/checkpoints/nanotube.pt)")
    add_copilot_options(pilot, prefix="copilot-")
    rec = parser.add_argument_group("recording")
    rec.add_argument("--record", type=Path, metavar="PATH", help="record the session to PATH (.nanover.zip), or to a new time-stamped file in PATH when it is a folder")
    rec.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="free-form label stored with the recording (repeatable)")
    parser.set_defaults(run=run)


def add_simulation_options(parser: argparse.ArgumentParser) -> None:
    """Options choosing and tuning the simulations (shared with ``costeer demo``)."""
    src = parser.add_argument_group("system (one kind; default: the built-in task)")
    src.add_argument("--omm", nargs="+", type=Path, default=[], metavar="FILE", help="NanoVer OpenMM XML files; several = several simulations (playback/load, playback/next)")
    src.add_argument("--pdb", type=Path, metavar="FILE", help="PDB or PDBx/mmCIF file, simulated with --forcefield")
    src.add_argument("--forcefield", nargs="+", default=["amber14-all.xml"], metavar="XML", help="OpenMM force-field files for --pdb (default amber14-all.xml)")
    src.add_argument("--strip-water", action="store_true", help="remove water from --pdb before building the system")
    src.add_argument("--task", metavar="NAME", help=f"built-in task system (default {DEFAULT_TASK})")
    src.add_argument("--playback", type=Path, metavar="FILE", help="replay a .nanover.zip recording to clients")
    run_group = parser.add_argument_group("running")
    run_group.add_argument("--steps-per-frame", type=int, default=5, help="MD steps per frame (default 5)")
    run_group.add_argument("--frame-rate", type=float, default=30.0, help="frames per second sent to clients (default 30)")
    run_group.add_argument("--free-run", action="store_true", help="step as fast as OpenMM goes; frames sampled at --frame-rate")
    run_group.add_argument("--platform", default="auto", help="OpenMM platform: auto (default: each available one is timed on the system at load, the fastest wins), Reference, CPU, CUDA, OpenCL, ...")
    run_group.add_argument("--cpu-threads", type=int, default=None, metavar="N", help="threads of the CPU platform (default: timed at load, all cores or all but one)")
    run_group.add_argument("--cpu-core", type=_core_setting, default="auto", metavar="auto|off|N", help="the 1-thread CPU platform with the simulation's thread and OpenMM's worker kept on one core: auto (default) also times it so, on the least busy cores, and keeps the fastest; N: always so, on core N; off: never")
    run_group.add_argument("--include-velocities", action="store_true", help="send particle velocities in frames")
    run_group.add_argument("--include-forces", action="store_true", help="send particle forces in frames")
    run_group.add_argument("--no-energies", action="store_true", help="leave energies and temperature out of frames (each evaluation costs a force evaluation; by default they are refreshed as often as that takes at most 3%% of the time)")
    run_group.add_argument("--seed", type=seed, default=None, help="random number seed of the thermostat (Langevin integrators), for reproducible runs (give --platform too: timing may pick another platform next run); default: a new one each run")
    run_group.add_argument("--max-force", type=float, default=DEFAULT_MAX_FORCE, help="server-wide cap on every interactive force, kJ/(mol nm), whatever a client asks (clients may only lower it); default 20000, NanoVer's per-interaction default")


def _core_setting(text: str) -> int | str:
    """``--cpu-core``: ``auto``, ``off`` or a core number (checked against this process's cores at load)."""
    if text in ("auto", "off"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give auto, off or a core number, not {text!r}") from None


def _check_options(args: argparse.Namespace) -> None:
    kinds = [bool(args.omm), args.pdb is not None, args.task is not None, args.playback is not None]
    if sum(kinds) > 1:
        raise ValueError("give one kind of system: --omm, --pdb, --task or --playback")
    if args.steps_per_frame < 1:
        raise ValueError(f"--steps-per-frame must be at least 1, got {args.steps_per_frame}")
    if not (0 < args.frame_rate <= 1000):
        raise ValueError(f"--frame-rate must be in (0, 1000], got {args.frame_rate}")
    if args.max_force is not None and not (args.max_force > 0 and not math.isnan(args.max_force)):
        raise ValueError(f"--max-force must be positive, got {args.max_force}")
    _check_ports(args)
    _check_files(args)


PORT_OPTIONS = ("port", "grpc_port", "imd_port", "imd_v2_port", "web_port")
"""Every option that listens on a port: each needs its own (0, a free one, may repeat)."""


def _check_ports(args: argparse.Namespace) -> None:
    """Two listeners on one port: refused by name, before the first of them fails to bind."""
    taken: dict[int, str] = {}
    for name in PORT_OPTIONS:
        number = getattr(args, name, None)
        if not number:
            continue
        option = "--" + name.replace("_", "-")
        if number in taken:
            raise ValueError(f"{taken[number]} and {option} are both {number}: give each its own port"
                             + (" (the web page is served on --port already)" if (taken[number], option) == ("--port", "--web-port") else ""))
        taken[number] = option


def _check_files(args: argparse.Namespace) -> None:
    """Every file the options name, before anything loads: one line naming the file if one is unusable."""
    if getattr(args, "record", None) is not None:
        args.record = new_recording(args.record, option="--record")
    for path in args.omm:
        existing_file(path, option="--omm")
    if args.pdb is not None:
        existing_file(args.pdb, option="--pdb")
        for forcefield in args.forcefield:  # other names are looked up among OpenMM's bundled files at load
            if Path(forcefield).exists():
                existing_file(forcefield, option="--forcefield")
    if args.playback is not None:
        existing_file(args.playback, option="--playback")


def build_simulations(args: argparse.Namespace) -> list[Any]:
    """The simulations the options describe, not yet loaded."""
    _check_options(args)
    if args.playback is not None:
        from ..recording.playback import RecordingPlayback

        playback = RecordingPlayback(args.playback)
        try:
            playback.check()  # refused now, with the reader's RecordingError, rather than at load while serving
        except BaseException:
            playback.close()
            raise
        return [playback]

    from ..engine.openmm_simulation import OpenMMSimulation

    settings = dict(
        steps_per_frame=args.steps_per_frame,
        platform=args.platform,
        cpu_threads=args.cpu_threads,
        cpu_core=args.cpu_core,
        include_velocities=args.include_velocities,
        include_forces=args.include_forces,
        include_energies=not args.no_energies,
        max_force=args.max_force,
        seed=args.seed,
    )
    if args.omm:
        from ..engine.nanover_xml import read_nanover_xml

        return [OpenMMSimulation(read_nanover_xml(path), source=str(path), **settings) for path in args.omm]
    if args.pdb is not None:
        from ..engine.loading import load_pdb_system

        loaded = load_pdb_system(args.pdb, forcefields=tuple(args.forcefield), strip_water=args.strip_water)
        return [OpenMMSimulation(loaded, source=str(args.pdb), **settings)]
    from ..engine.loading import from_built
    from ..tasks import build_task_system

    task = args.task or DEFAULT_TASK
    return [OpenMMSimulation(from_built(build_task_system(task)), source=f"task:{task}", **settings)]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_session(*, systems: list[dict[str, Any]], settings: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """The ``costeer.session`` state entry: who served what, how, and the user's labels."""
    return {
        "server": "costeer",
        "version": __version__,
        "python": host_platform.python_version(),
        "systems": systems,
        "settings": settings,
        "labels": labels,
    }


def session_info(args: argparse.Namespace, labels: dict[str, str]) -> dict[str, Any]:
    """:func:`describe_session` for the systems and settings ``costeer serve`` was given."""
    files = [*args.omm, args.pdb, args.playback]
    systems = [{"file": str(path), "sha256": _file_sha256(path)} for path in files if path is not None]
    return describe_session(
        systems=systems or [{"task": args.task or DEFAULT_TASK}],
        settings={
            "steps_per_frame": args.steps_per_frame,
            "frame_rate": args.frame_rate,
            "free_run": args.free_run,
            "platform": args.platform,
            "max_force": args.max_force,
            "energies": not args.no_energies,
            "seed": args.seed,
            "forcefield": list(args.forcefield) if args.pdb else None,
            "strip_water": args.strip_water if args.pdb else None,
            "copilot": None if getattr(args, "copilot", None) is None else {
                "policy": args.copilot.name, "mode": args.copilot_mode, "blend": args.copilot_blend,
                "max_force": args.copilot_max_force},
        },
        labels=labels,
    )


def parse_labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--label expects KEY=VALUE, got {item!r}")
        labels[key] = value
    return labels


def run(args: argparse.Namespace) -> int:
    copilot = None
    if args.copilot is not None:  # a bad checkpoint, or one for another task than served, stops serve before anything loads
        served_task = None if (args.omm or args.pdb or args.playback) else (args.task or DEFAULT_TASK)
        copilot = (load_copilot_policy(args.copilot, option="--copilot", expect_task=served_task),
                   copilot_settings(args, prefix="copilot-"))
    if args.mqtt is not None:  # a bad --mqtt is refused before anything loads
        from ..events import parse_broker

        parse_broker(args.mqtt)
    if args.remote is not None:  # so are a bad --remote and --cloud-discovery
        from ..server.remote import check_hub_url

        check_hub_url(args.remote)
    if args.cloud_discovery is not None:
        from ..server.cloud_discovery import discovery_url

        discovery_url(args.cloud_discovery)
    tls, access = _tls(args), AccessPolicy.from_options(token=args.token, viewer_token=args.viewer_token)
    web = _web_settings(args)
    simulations = build_simulations(args)
    info = session_info(args, parse_labels(args.label))
    from ..server.app import CosteerServer
    from ..server.heap import pin_mmap_threshold
    from ..server.web import page_url

    pin_mmap_threshold()  # clients' large messages must not grow the heap for good (server.heap)

    server = CosteerServer(
        simulations,
        address=args.address,
        port=args.port,
        frame_rate=args.frame_rate,
        free_run=args.free_run,
        discovery=args.discovery,
        name=args.name,
        record=args.record,
        session_info=info,
        on_blowup=args.on_blowup,
        transports=_transports(args),
        access=access,
        tls=tls,
        web=web,
    )
    if args.playback is not None:  # the recording's avatars and interactions go to the shared state; the page seeks
        from ..recording.playback import SEEK_COMMAND

        simulations[0].state_sink = server.state.update
        server.commands.register(SEEK_COMMAND, simulations[0].seek)  # no listed default: without a time it only tells
    if copilot is not None:
        from ..agent.copilot.inprocess import attach_copilot

        runner, settings = copilot
        attach_copilot(server, runner, settings=settings, policy_name=args.copilot.name)
    events = _start_events(server, args)
    try:
        server.start()
    except BaseException:
        if events is not None:
            events.close()
        raise
    print(f"costeer serving {server.url}", flush=True)
    if access.enabled:
        print("clients need the token: ?token=TOKEN in the URL or 'Authorization: Bearer TOKEN'", flush=True)
    print(f"web page: {page_url(args.address, server.port, scheme=server.page_scheme)}", flush=True)
    for transport in server.transports[1:]:
        if transport.port is not None:
            print(f"costeer serving {transport.name} on {args.address}:{transport.port}", flush=True)
    if args.remote is not None:
        print(f"costeer serving through the hub at {args.remote}", flush=True)
    if args.cloud_discovery is not None:
        from ..server.cloud_discovery import advertise_server

        advertise_server(server, args.cloud_discovery, hub=args.remote)
    if args.record is not None:
        print(f"recording to {args.record}", flush=True)
    if copilot is not None:
        print(f"co-pilot {args.copilot.name} in {copilot[1].mode} (copilot/mode switches it)", flush=True)
    try:
        server.serve_forever()
    finally:
        if events is not None:
            events.close()
    return 0


def _tls(args: argparse.Namespace) -> "TlsCredentials | None":
    """``--ssl`` / ``--ssl-auto``: the checked certificate and key, or ``None``."""
    if args.ssl is not None and args.ssl_auto:
        raise ValueError("give --ssl CERT KEY or --ssl-auto, not both")
    from ..server.tls import TlsCredentials, self_signed

    if args.ssl_auto:
        return self_signed([args.address])
    if args.ssl is None:
        return None
    if not 2 <= len(args.ssl) <= 3:
        raise ValueError(f"--ssl takes CERT KEY and, for an encrypted key, its PASSWORD; got {len(args.ssl)} values")
    return TlsCredentials.load(*args.ssl)
def _web_settings(args: argparse.Namespace) -> Any:
    """``--web-port`` and ``--allow-origin``: how the page is served (a bad origin stops serve with its error)."""
    from ..server.web import WebSettings

    try:
        return WebSettings(port=args.web_port, allow_origins=tuple(args.allow_origin))
    except ValueError as error:
        raise ValueError(f"--allow-origin: {error}") from None


def _transports(args: argparse.Namespace) -> list[Any]:
    """The transports beside the WebSocket that the options ask for (gRPC, IMD v3, IMD v2, the remote hub)."""
    transports = []
    if args.grpc_port is not None:
        try:
            from ..server.grpc.server import grpc_transport
        except ImportError as error:
            raise ImportError(f"--grpc-port needs the grpc extra: pip install -e '.[grpc]' ({error})") from None
        transports.append(grpc_transport(port=args.grpc_port))
    from ..server.imd.server import imd_transport

    ports = ((args.imd_port, 3), (args.imd_v2_port, 2))
    transports += [imd_transport(port=port, version=version) for port, version in ports if port is not None]
    if args.remote is not None:
        from ..server.remote import remote_transport

        transports.append(remote_transport(args.remote))
    return transports


def _start_events(server: Any, args: argparse.Namespace) -> Any:
    """``--mqtt``: the server's events thread, started before the server (it sees the recording start)."""
    if args.mqtt is None:
        return None
    from ..events import ServerEvents, parse_broker
    from ..tasks import resolve_task

    serving_task = not (args.omm or args.pdb or args.playback)
    events = ServerEvents(server, broker=parse_broker(args.mqtt), task=resolve_task(args.task or DEFAULT_TASK) if serving_task else None)
    events.start()
    print(f"events to mqtt://{args.mqtt} on {events.topic_prefix}#", flush=True)
    return events
