"""``costeer export``: write a system as NanoVer's OpenMM XML (NanoVer's server runs it), or its
topology as PDB (``--topology``: what an IMD client such as MDAnalysis or VMD loads beside the stream)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .files import existing_file, output_file

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="write a system as NanoVer OpenMM XML, or its topology as PDB for IMD clients",
        description="Build a system and write it as NanoVer's <OpenMMSimulation> XML "
        "(PDBx topology + serialized System + Integrator), and/or its topology as PDB "
        "(--topology), atoms in the order costeer serves them over IMD.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pdb", type=Path, metavar="FILE", help="PDB or PDBx/mmCIF file")
    source.add_argument("--task", metavar="NAME", help="built-in task system, e.g. nanotube")
    source.add_argument("--omm", type=Path, metavar="FILE", help="NanoVer OpenMM XML file (with --topology)")
    parser.add_argument("--forcefield", nargs="+", default=["amber14-all.xml"], metavar="XML", help="force-field files for --pdb (default amber14-all.xml)")
    parser.add_argument("--strip-water", action="store_true", help="remove water before building the system")
    parser.add_argument("-o", "--output", type=Path, help="the XML file to write")
    parser.add_argument("--topology", type=Path, metavar="PDB", help="write the system's topology here as PDB, atoms in the order served (for MDAnalysis.Universe(PDB, 'imd://host:port') or VMD)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..engine.export import export_nanover_xml, export_topology_pdb
    from ..engine.loading import from_built, load_pdb_system

    if args.output is None and args.topology is None:
        raise ValueError("say what to write: -o/--output FILE.xml, --topology FILE.pdb, or both")
    if args.omm is not None and args.output is not None:
        raise ValueError("--omm is already NanoVer XML: use it with --topology only")
    for path, option in ((args.output, "--output"), (args.topology, "--topology")):
        if path is not None:
            output_file(path, option=option)
    if args.omm is not None:
        from ..engine.nanover_xml import read_nanover_xml

        loaded = read_nanover_xml(existing_file(args.omm, option="--omm"))
    elif args.pdb is not None:
        existing_file(args.pdb, option="--pdb")
        loaded = load_pdb_system(args.pdb, forcefields=tuple(args.forcefield), strip_water=args.strip_water)
    else:
        from ..tasks import build_task_system

        loaded = from_built(build_task_system(args.task))
    for path, write in ((args.output, export_nanover_xml), (args.topology, export_topology_pdb)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(loaded, path)
            print(f"wrote {path} ({loaded.system.getNumParticles()} particles)")
    return 0
