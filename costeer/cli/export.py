"""``costeer export``: write a system as NanoVer's OpenMM XML, so NanoVer's server can run it."""

from __future__ import annotations

import argparse
from pathlib import Path

from .files import existing_file, output_folder_of

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="write a PDB + force-field system (or a built-in task) as NanoVer OpenMM XML",
        description="Build a system and write it as NanoVer's <OpenMMSimulation> XML "
        "(PDBx topology + serialized System + Integrator).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pdb", type=Path, metavar="FILE", help="PDB or PDBx/mmCIF file")
    source.add_argument("--task", metavar="NAME", help="built-in task system, e.g. nanotube")
    parser.add_argument("--forcefield", nargs="+", default=["amber14-all.xml"], metavar="XML", help="force-field files for --pdb (default amber14-all.xml)")
    parser.add_argument("--strip-water", action="store_true", help="remove water before building the system")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the XML file to write")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..engine.export import export_nanover_xml
    from ..engine.loading import from_built, load_pdb_system

    output_folder_of(args.output, option="--output")
    if args.pdb is not None:
        existing_file(args.pdb, option="--pdb")
        loaded = load_pdb_system(args.pdb, forcefields=tuple(args.forcefield), strip_water=args.strip_water)
    else:
        from ..tasks import build_task_system

        loaded = from_built(build_task_system(args.task))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    export_nanover_xml(loaded, args.output)
    print(f"wrote {args.output} ({loaded.system.getNumParticles()} particles)")
    return 0
