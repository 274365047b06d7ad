"""Names of the keys NanoVer 0.1.3018 uses in frames, shared state and commands."""

# Frame keys
FRAME_INDEX = "frame.index"
SERVER_TIMESTAMP = "server.timestamp"

BOX_VECTORS = "system.box.vectors"
SIMULATION_NAME = "system.simulation.name"
SIMULATION_TIME = "system.simulation.time"
SIMULATION_COUNTER = "system.simulation.counter"
SIMULATION_STEP = "system.simulation.step"  # costeer: the integrator's step count (IMD's TIME packet)
SIMULATION_TIMESTEP = "system.simulation.timestep"  # costeer: the integrator's time step, ps
SIMULATION_EXCEPTION = "system.simulation.exception"
SYSTEM_TEMPERATURE = "system.temperature"
RESET_COUNTER = "system.reset.counter"  # older recordings only

PARTICLE_COUNT = "particle.count"
PARTICLE_POSITIONS = "particle.positions"
PARTICLE_VELOCITIES = "particle.velocities"
PARTICLE_FORCES = "particle.forces"
PARTICLE_FORCES_SYSTEM = "particle.forces.system"
PARTICLE_ELEMENTS = "particle.elements"
PARTICLE_COLORS = "particle.colors"
PARTICLE_NAMES = "particle.names"
PARTICLE_RESIDUES = "particle.residues"

BOND_PAIRS = "bond.pairs"
BOND_ORDERS = "bond.orders"

RESIDUE_COUNT = "residue.count"
RESIDUE_NAMES = "residue.names"
RESIDUE_IDS = "residue.ids"
RESIDUE_CHAINS = "residue.chains"

CHAIN_COUNT = "chain.count"
CHAIN_NAMES = "chain.names"

KINETIC_ENERGY = "energy.kinetic"
POTENTIAL_ENERGY = "energy.potential"
USER_ENERGY = "energy.user.total"
ENERGY_TIME = "energy.simulation.time"  # costeer: simulation time (ps) of energy.kinetic/potential

USER_FORCES_SPARSE = "forces.user.sparse"
USER_FORCES_INDEX = "forces.user.index"
USER_WORK_DONE = "forces.user.work_done"

# Shared-state keys and prefixes
INTERACTION_PREFIX = "interaction."
AVATAR_PREFIX = "avatar."
STATE_SIMULATION_NAME = "simulation.name"
STATE_SIMULATION_INDEX = "simulation.index"
STATE_VELOCITY_RESET_AVAILABLE = "imd.velocity_reset_available"
STATE_SESSION = "costeer.session"
STATE_DEMONSTRATOR = "costeer.demonstrator"  # written by synthetic demonstrators
STATE_RECOVERY = "costeer.recovery"  # written by the server after each recovery from a blow-up
STATE_COPILOT = "costeer.copilot"  # the co-pilot's status: mode, blend, policy, acting, error
STATE_COPILOT_SUGGESTION = "costeer.copilot.suggestion"  # what the co-pilot would do (a ghost interaction)

COPILOT_OWNER = "costeer-copilot"
"""``owner.id`` of the co-pilot's interaction and suggestion; its interaction is ``interaction.costeer-copilot``."""
AGENT_LABELS = frozenset({"policy", "copilot"})
"""Interaction ``label`` values that mark an agent's pull (anything else is a person's, or a synthetic person's)."""

SERVER_STATE_KEYS = frozenset(
    {STATE_SIMULATION_NAME, STATE_SIMULATION_INDEX, STATE_VELOCITY_RESET_AVAILABLE, STATE_SESSION, STATE_RECOVERY}
)
"""State keys only the live server writes (read-only to clients, never replayed from a recording).
``costeer.demonstrator`` is not one: a client writes it."""

# Commands
LIST_COMMANDS = "commands/list"
PLAY_COMMAND = "playback/play"
PAUSE_COMMAND = "playback/pause"
STEP_COMMAND = "playback/step"
RESET_COMMAND = "playback/reset"
LIST_COMMAND = "playback/list"
LOAD_COMMAND = "playback/load"
NEXT_COMMAND = "playback/next"
RADIALLY_ORIENT_COMMAND = "multiuser/radially-orient-origins"
COPILOT_MODE_COMMAND = "copilot/mode"
COPILOT_STOP_COMMAND = "copilot/stop"

__all__ = [name for name in dir() if name.isupper()]
