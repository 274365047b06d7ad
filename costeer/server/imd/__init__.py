"""IMD (versions 2 and 3): the protocol of GROMACS, NAMD and LAMMPS, for VMD and MDAnalysis clients."""
