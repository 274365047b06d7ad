"""Python stubs for our ``.proto`` files (``protos/`` at the repository root), made on first use.

``protocol("narupa")`` / ``protocol("nanover")`` return the generated modules of one namespace.
The stubs are written by grpcio-tools into ``costeer/server/grpc/_generated/`` (ignored by
git) the first time they are needed, and again whenever a ``.proto`` file or grpcio-tools
changes (a stamp holds the hash of both), so a clean clone needs no generation step and the
stubs can never be stale. protoc writes imports such as ``from narupa.protocol import
array_pb2``; they are rewritten to import from ``_generated``, so no top-level ``narupa`` or
``nanover`` package is put on ``sys.path`` (where it would shadow a real NanoVer install).

    stubs = protocol("nanover")
    frame = stubs.trajectory.GetFrameResponse(frame_index=0)
    stub = stubs.trajectory_grpc.TrajectoryServiceStub(channel)

Run ``python -m costeer.server.grpc.generate`` to (re)generate them by hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Iterator

__all__ = ["NAMESPACES", "PROTOS_DIR", "GENERATED_DIR", "ProtocolModules", "protocol", "generate", "proto_files"]

NAMESPACES = ("narupa", "nanover")
"""The two package namespaces of the legacy protocol: ``narupa.protocol.*`` and ``nanover.protocol.*``."""
PROTOS_DIR = Path(__file__).resolve().parents[3] / "protos"
"""Our ``.proto`` files, one folder per namespace."""
GENERATED_DIR = Path(__file__).resolve().parent / "_generated"
"""Where the generated stubs go (ignored by git)."""

_PACKAGE = __name__.rsplit(".", 1)[0] + "._generated"
_STAMP = "STAMP"
_lock = threading.Lock()


@dataclass(frozen=True)
class ProtocolModules:
    """The generated modules of one namespace (messages and gRPC stubs/servicers)."""

    namespace: str
    array: ModuleType
    trajectory: ModuleType
    trajectory_grpc: ModuleType
    state: ModuleType
    state_grpc: ModuleType
    command: ModuleType
    command_grpc: ModuleType


def proto_files() -> list[Path]:
    """Every ``.proto`` file of both namespaces, relative to ``PROTOS_DIR``."""
    if not PROTOS_DIR.is_dir():
        raise FileNotFoundError(
            f"the gRPC protocol files are not at {PROTOS_DIR}; serve gRPC from a checkout of costeer "
            "(pip install -e '.[grpc]'), which keeps protos/ beside the package"
        )
    return sorted(path.relative_to(PROTOS_DIR) for path in PROTOS_DIR.rglob("*.proto"))


def protocol(namespace: str) -> ProtocolModules:
    """The generated modules of ``namespace`` (``"narupa"`` or ``"nanover"``), generating them if needed."""
    if namespace not in NAMESPACES:
        raise ValueError(f"unknown gRPC namespace {namespace!r}; choose one of {', '.join(NAMESPACES)}")
    with _lock, _across_processes():
        if _stamp_of(GENERATED_DIR) != _expected_stamp():
            generate()
    base = f"{_PACKAGE}.{namespace}.protocol"
    load = importlib.import_module
    return ProtocolModules(
        namespace=namespace,
        array=load(f"{base}.array_pb2"),
        trajectory=load(f"{base}.trajectory.trajectory_service_pb2"),
        trajectory_grpc=load(f"{base}.trajectory.trajectory_service_pb2_grpc"),
        state=load(f"{base}.state.state_service_pb2"),
        state_grpc=load(f"{base}.state.state_service_pb2_grpc"),
        command=load(f"{base}.command.command_service_pb2"),
        command_grpc=load(f"{base}.command.command_service_pb2_grpc"),
    )


@contextlib.contextmanager
def _across_processes() -> Iterator[None]:
    """Hold a file lock beside the stubs, so that two processes (a test and the server it
    started) never generate at once; without ``fcntl`` (Windows) threads are still kept apart."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(GENERATED_DIR.with_name(GENERATED_DIR.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def generate() -> Path:
    """Run protoc on every ``.proto`` file into ``GENERATED_DIR``; returns it.

    Writes into a fresh folder and swaps it in, so a process that reads the stubs meanwhile
    (another test, another server) never sees half of them.
    """
    protoc = _protoc()
    files = proto_files()
    include = Path(protoc.__file__).parent / "_proto"  # google/protobuf/struct.proto
    building = Path(tempfile.mkdtemp(prefix="_generated-", dir=GENERATED_DIR.parent))
    try:
        arguments = [
            "grpc_tools.protoc",
            f"-I{PROTOS_DIR}",
            f"-I{include}",
            f"--python_out={building}",
            f"--grpc_python_out={building}",
            *[str(path) for path in files],
        ]
        if protoc.main(arguments) != 0:
            raise RuntimeError(f"protoc failed on {PROTOS_DIR}; run python -m costeer.server.grpc.generate to see why")
        for module in building.rglob("*.py"):
            module.write_text(_rewrite_imports(module.read_text()))
        for folder in [building, *(path for path in building.rglob("*") if path.is_dir())]:
            (folder / "__init__.py").touch()
        (building / _STAMP).write_text(_expected_stamp())
        _swap_in(building)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    importlib.invalidate_caches()
    return GENERATED_DIR


def _rewrite_imports(source: str) -> str:
    """``from narupa.protocol...`` -> ``from costeer.server.grpc._generated.narupa.protocol...``."""
    return re.sub(r"^(from|import) ((?:narupa|nanover)\.protocol)", rf"\1 {_PACKAGE}.\2", source, flags=re.MULTILINE)


def _swap_in(building: Path) -> None:
    old = GENERATED_DIR.with_name(f"{GENERATED_DIR.name}-old-{os.getpid()}")
    if GENERATED_DIR.exists():
        os.replace(GENERATED_DIR, old)
    try:
        os.replace(building, GENERATED_DIR)
    except OSError:  # another process swapped its own (identical) stubs in first
        if _stamp_of(GENERATED_DIR) != _expected_stamp():
            raise
    shutil.rmtree(old, ignore_errors=True)


def _protoc() -> ModuleType:
    try:
        from grpc_tools import protoc
    except ImportError:
        raise ImportError("serving gRPC needs grpcio and grpcio-tools: pip install -e '.[grpc]'") from None
    return protoc


def _expected_stamp() -> str:
    _protoc()
    digest = hashlib.sha256()
    for path in proto_files():
        digest.update(str(path).encode())
        digest.update((PROTOS_DIR / path).read_bytes())
    digest.update(version("grpcio-tools").encode())
    return digest.hexdigest()


def _stamp_of(folder: Path) -> str | None:
    try:
        return (folder / _STAMP).read_text()
    except OSError:
        return None


if __name__ == "__main__":
    print(generate())
