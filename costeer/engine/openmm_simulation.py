"""An OpenMM system as a costeer ``Simulation``: steps, user forces, frames out.

    simulation = OpenMMSimulation(read_nanover_xml("nanotube.xml"))
    simulation.load()
    full = simulation.reset()          # topology + positions, starts a frame sequence
    delta = simulation.advance(1 / 30) # steps_per_frame steps, then a delta frame

The runner may also drive it unpaced: ``run_chunk()`` steps ``steps_per_frame`` steps and
refreshes the user forces (no OpenMM state is fetched when nobody interacts; then a chunk is
as many steps as fit in ``IDLE_CHUNK_SECONDS``), and ``current_frame()`` builds a frame only
when one is to be published.

Each reset after the first draws new thermostat noise (``reset(seed=...)`` for a given
one; ``costeer.engine.seeds``). The user forces and their work are ``UserForces``
(``costeer.engine.user_forces``); frame helpers are in ``costeer.engine.openmm_frames``.

It keeps recent good states (``remember_good_state``, an OpenMM ``State`` every 0.25 s of
wall time, the last four: about 4 µs each at 65 atoms, 7 µs at 584, 0.15 ms at 8,867) and
``roll_back`` returns to them after a blow-up (see ``costeer.engine.recovery``).

Frames carry the keys NanoVer 0.1.3018's OpenMM simulation sends: the full frame has the
topology (``particle.*``, ``residue.*``, ``chain.*``, ``bond.pairs``), positions, energies,
box vectors, ``system.simulation.time`` (ps) and ``system.simulation.name``; each delta has
positions, box vectors, time, and the user's forces (``forces.user.sparse``/``index``,
``energy.user.total``, ``forces.user.work_done``). Energies and ``system.temperature`` come
with the full frame and with the deltas whose turn it is (``EnergySchedule``: every frame
while they are cheap), stamped ``energy.simulation.time``; clients merging deltas keep the
latest.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Mapping

import numpy as np
import openmm
from openmm import unit

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import DEFAULT_MAX_FORCE, Interaction

from .affinity import check_core, on_core, process_cores
from .contexts import open_context
from .energy_schedule import ENERGY_BUDGET, EnergySchedule
from .frame_guard import SimulationBlowUpError
from .good_states import GoodStates
from .imd_force import ImdForce
from .nanover_xml import LoadedSystem
from .openmm_frames import (
    MOLAR_GAS_CONSTANT, blow_up_message, degrees_of_freedom, energy_frame, require_finite, state_frame, topology_frame,
)
from .platforms import PlatformCandidate, check_platform
from .recovery import NothingToRollBackTo, RolledBack
from .seeds import openmm_seed, reset_seed
from .user_forces import UserForces

__all__ = ["OpenMMSimulation", "SimulationBlowUpError", "MOLAR_GAS_CONSTANT"]

_LOG = logging.getLogger(__name__)

IDLE_CHUNK_SECONDS = 0.005
"""Free-running with nobody interacting, a chunk lasts about this long: a Python round trip
every 5 steps cost the nanotube ~10% of raw OpenMM's rate; a new pull waits at most this long."""
MAX_IDLE_CHUNK_STEPS = 1000

_OPENMM_NAN = re.compile(r"\bnan\b", re.IGNORECASE)
"""OpenMM's own blow-up exceptions ("Particle coordinate is NaN") say NaN."""


class OpenMMSimulation:
    """Runs one OpenMM system for the runner: reset, advance, user forces, frames.

    ``sim = OpenMMSimulation(loaded, steps_per_frame=5); sim.load(); sim.reset()``
    """

    def __init__(
        self,
        loaded: LoadedSystem,
        *,
        steps_per_frame: int = 5,
        platform: str | None = None,
        cpu_threads: int | None = None,
        cpu_core: int | str | None = None,
        include_velocities: bool = False,
        include_forces: bool = False,
        include_energies: bool = True,
        energy_budget: float | None = ENERGY_BUDGET,
        max_force: float | None = DEFAULT_MAX_FORCE,
        source: str | None = None,
        seed: int | None = None,
    ) -> None:
        if steps_per_frame < 1:
            raise ValueError(f"steps_per_frame must be at least 1, got {steps_per_frame}")
        if cpu_threads is not None and cpu_threads < 1:
            raise ValueError(f"the CPU platform needs at least 1 thread, got {cpu_threads}")
        check_core(cpu_core)
        check_platform(platform)  # an unknown name stops here, before anything is served
        self.loaded = loaded
        self.name: str = loaded.name
        """Shown to clients as ``simulation.name`` / ``system.simulation.name``."""
        self.steps_per_frame = steps_per_frame
        self.platform_name = platform
        """Requested OpenMM platform (any case); ``None`` or ``"auto"``: the fastest, timed at load."""
        self.cpu_threads = cpu_threads
        """CPU platform threads; ``None``: timed at load (all cores, or all but one)."""
        self.cpu_core = cpu_core
        """The 1-thread CPU platform kept on one core (``costeer.engine.affinity``): ``"auto"`` also
        timed so, on the least busy cores; a core number: only so, on that core; ``None``/``"off"``: never."""
        self.platform_candidate: PlatformCandidate | None = None
        """The platform (and threads) in use, once loaded."""
        self.include_velocities = include_velocities
        self.include_forces = include_forces
        self.include_energies = include_energies
        """Energies and temperature in frames; each evaluation costs a force evaluation."""
        self._energy_schedule = EnergySchedule(energy_budget)
        self.max_force = max_force
        """Server-wide cap on user forces, kJ/(mol nm), whatever the sign of a pull's scale or
        its own ``max_force`` (NanoVer's per-interaction default by default); ``None`` for none."""
        self.source = source if source is not None else (str(loaded.source) if loaded.source else None)
        """Where the system came from (file path or task name), for the session record."""
        self.seed = seed
        """Random number seed of a stochastic integrator (Langevin); ``None`` keeps the system's own.
        Each later reset draws new noise: derived from this seed and the reset's number, or fresh
        when ``None`` (see ``reset``)."""
        self.resets = 0
        """Resets since ``load``."""
        self.thermostat_seed: int | None = None
        """What the last reset gave ``setRandomNumberSeed`` (``None``: it kept the load's noise)."""
        system = loaded.system
        self.particle_count: int = system.getNumParticles()
        self.masses: np.ndarray = np.array(
            [system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(self.particle_count)],
            dtype=np.float64,
        )
        """Particle masses in dalton."""
        self.periodic: bool = system.usesPeriodicBoundaryConditions()
        self.steps_taken: int = 0
        """MD steps run since ``load`` (resets do not rewind it): for steps/s figures."""

        self._context: openmm.Context | None = None
        self._integrator: openmm.Integrator | None = None
        self._user: UserForces | None = None
        self._initial_state: openmm.State | None = None
        self._steps_at_load = 0
        self._topology_frame: FrameDict = {}
        self._dof = 0
        self._interactions: dict[str, Interaction] = {}
        self._chunk_positions: np.ndarray | None = None
        self._idle_steps = steps_per_frame
        """Steps of the next free-running chunk while nobody interacts (sized by the last one's time)."""
        self._failed = False
        self.good_states = GoodStates()
        """Recent good states (OpenMM ``State``s) that ``roll_back`` returns to."""
        self._rolled_back_to_start = False

    @property
    def context(self) -> openmm.Context:
        """The OpenMM context (after ``load``)."""
        if self._context is None:
            raise RuntimeError(f"simulation {self.name!r} is not loaded: call load() first")
        return self._context

    @property
    def platform(self) -> str:
        """Name of the OpenMM platform in use (after ``load``)."""
        return self.context.getPlatform().getName()

    def load(self) -> None:
        """Build the OpenMM context (with the user force) and remember the initial state."""
        if self._context is not None:
            return
        loaded = self.loaded
        system = openmm.XmlSerializer.clone(loaded.system)
        imd = ImdForce(system)
        self._user = UserForces(imd, self.masses, periodic_box=loaded.box if self.periodic else None)
        opened = open_context(loaded, system, platform=self.platform_name, cpu_threads=self.cpu_threads,
                              cpu_core=self.cpu_core, seed=self.seed, steps_per_call=self.steps_per_frame, name=self.name)
        context, self._integrator = opened.context, opened.integrator
        imd.clear(context)  # nobody pulls yet: the user force's group is left out of the steps until someone does
        self.platform_candidate = opened.candidate
        self._context = context
        self._initial_state = _snapshot(context)
        self._steps_at_load = self.steps_taken
        self.resets = 0
        self._dof = degrees_of_freedom(system)
        self._topology_frame = topology_frame(loaded.topology)
        _LOG.info("loaded %s: %d particles on the %s platform", self.name, self.particle_count, opened.candidate)

    def reset(self, seed: int | None = None) -> FrameDict:
        """Return to the initial state with new thermostat noise, drop the user forces and work; a full frame.

        ``seed`` seeds the thermostat's random numbers (``openmm_seed(seed)``: the same seed, the
        same trajectory on the same platform). Without one, the first reset after ``load`` keeps
        the noise the load seeded and reset k after it uses ``reset_seed(self.seed, reset=k)``:
        the same in every run given the same ``seed`` at construction, fresh noise when none.
        Reseeding reinitialises the context: 20-70 ms for the 65-atom nanotube (idle to loaded machine).
        """
        context = self.context
        if self._failed:
            # After a blow-up OpenMM may keep non-finite cached values (the kinetic energy of
            # leapfrog integrators): rebuild the context's data, as NanoVer always does.
            self._reinitialize()
            self._failed = False
        context.setState(self._initial_state)
        self._drop_user_forces(keep_work=False)
        if seed is not None or self.resets:
            self._reseed(openmm_seed(seed) if seed is not None else reset_seed(self.seed, reset=self.resets))
        elif self.seed is not None and self.steps_taken != self._steps_at_load:
            self._reseed(openmm_seed(self.seed))  # stepped since the load: its noise again, from the start
        else:
            self.thermostat_seed = None
        self.resets += 1
        self.good_states.clear()
        self._rolled_back_to_start = False
        frame = dict(self._topology_frame)
        frame.update(self._state_frame(with_user=False))
        frame[keys.SIMULATION_NAME] = self.name
        return frame

    def _reseed(self, value: int) -> None:
        """Seed the integrator's random numbers and return to the initial state, keeping that seed.

        ``setState`` leaves the generator alone (a checkpoint would restore the old one).
        Integrators without random numbers (Verlet) are left as they are.
        """
        integrator = self._integrator
        self.thermostat_seed = None
        if not hasattr(integrator, "setRandomNumberSeed"):
            return
        integrator.setRandomNumberSeed(value)
        self._reinitialize()
        self.context.setState(self._initial_state)
        self.thermostat_seed = value

    def advance(self, seconds: float) -> FrameDict:
        """Run ``steps_per_frame`` steps (``seconds`` is ignored) and return the delta frame."""
        self._run(self.steps_per_frame, refresh=self._user.needed(self._interactions))
        return self.current_frame()

    def _reinitialize(self) -> None:
        """Rebuild the context's data; OpenMM's CPU workers start again, on its core if it has one."""
        with on_core(self.core):
            self.context.reinitialize()

    @property
    def core(self) -> int | None:
        """The core the stepping thread and OpenMM's worker are kept on (after ``load``), if any."""
        return None if self.platform_candidate is None else self.platform_candidate.core

    @property
    def fills_cores(self) -> bool:
        """OpenMM's CPU workers take every core the server may use (after ``load``): the runner
        then lets each frame's readers finish before stepping on (``FrameOutlet.readers_wait``)."""
        return self.platform_candidate is not None and self.platform_candidate.fills(len(process_cores()))

    def run_chunk(self) -> None:
        """Free-running: ``steps_per_frame`` steps while anyone interacts (then the user forces are
        refreshed), else about ``IDLE_CHUNK_SECONDS`` of steps (at least ``steps_per_frame``)."""
        if self._user.needed(self._interactions):
            self._run(self.steps_per_frame, refresh=True)
            return
        started = time.perf_counter()
        self._run(self._idle_steps, refresh=False)
        seconds_per_step = max(time.perf_counter() - started, 1e-9) / self._idle_steps
        self._idle_steps = max(self.steps_per_frame, min(MAX_IDLE_CHUNK_STEPS, int(IDLE_CHUNK_SECONDS / seconds_per_step)))

    def _run(self, steps: int, *, refresh: bool) -> None:
        """Run ``steps`` steps, then refresh the user forces if ``refresh`` (someone interacts, or did last chunk)."""
        try:
            with on_core(self.core):  # the server's simulation thread is kept there already (the runner)
                self._integrator.step(steps)
            self.steps_taken += steps
            self._chunk_positions = None
            if refresh:
                positions = self._positions()
                self._user.update(self._context, positions, self._interactions, max_force=self.max_force)
                self._chunk_positions = positions
        except openmm.OpenMMException as error:
            self._failed = True
            if _OPENMM_NAN.search(str(error)):
                cause = f"OpenMM: {str(error).split('  ')[0]}"
                raise SimulationBlowUpError(blow_up_message(self.name, cause), cause=cause) from error
            raise
        except Exception:
            self._failed = True
            raise

    def current_frame(self) -> FrameDict:
        """The delta frame for the current state (raises ``SimulationBlowUpError`` if it blew up)."""
        try:
            return self._state_frame(with_user=True)
        except Exception:
            self._failed = True
            raise

    def remember_good_state(self) -> None:
        """The current state passed the frame guard: keep it if one is due."""
        context = self.context
        if self.good_states.offer(lambda: (_snapshot(context), context.getTime().value_in_unit(unit.picosecond))):
            self._rolled_back_to_start = False

    def roll_back(self, *, to_start: bool = False) -> RolledBack:
        """Back to the newest good state not yet tried (the initial one last), without user forces.

        ``to_start``: forget the kept states and go back to the initial one. Raises
        ``NothingToRollBackTo`` when the initial state was tried since the last good state was kept.
        """
        context = self.context
        if to_start:
            self.good_states.forget_all()
            saved = None
        else:
            saved = self.good_states.take()
        if saved is None:
            if self._rolled_back_to_start:
                raise NothingToRollBackTo(
                    f"simulation {self.name!r} blew up again right after going back to its initial "
                    "state; paused: check the system (time step, constraints), then playback/reset "
                    "and playback/play"
                )
            self._rolled_back_to_start = True
        self._reinitialize()  # a blown-up context may keep non-finite cached values
        self._failed = False
        context.setState(self._initial_state if saved is None else saved.snapshot)
        self._drop_user_forces(keep_work=True)
        self._interactions = {}
        frame = self._state_frame(with_user=True)
        if saved is None:
            return RolledBack(frame, frame[keys.SIMULATION_TIME], None)
        return RolledBack(frame, saved.simulation_time, self.good_states.now() - saved.saved_at)

    def set_interactions(self, interactions: Mapping[str, Interaction]) -> None:
        """Replace the live interactions; those naming particles this system lacks are ignored."""
        accepted: dict[str, Interaction] = {}
        for key, interaction in interactions.items():
            if interaction.particles.size and interaction.particles[-1] >= self.particle_count:
                _LOG.warning(
                    "ignoring %s: particle %d is out of range for %s (%d particles)",
                    key, int(interaction.particles[-1]), self.name, self.particle_count,
                )
                continue
            accepted[key] = interaction
        self._interactions = accepted

    def close(self) -> None:
        """Drop the OpenMM context (and its GPU memory); ``load`` builds a new one. Idempotent."""
        self._context = None
        self._integrator = None
        self._user = None
        self._initial_state = None
        self._chunk_positions = None

    def _drop_user_forces(self, *, keep_work: bool) -> None:
        self._user.drop(self._context, keep_work=keep_work)
        self._chunk_positions = None

    def _positions(self) -> np.ndarray:
        state = self._context.getState(getPositions=True, enforcePeriodicBox=self.periodic)
        positions = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        require_finite(positions, "positions", self.name)
        return positions

    def _state_frame(self, *, with_user: bool) -> FrameDict:
        frame = state_frame(
            self._context, name=self.name, periodic=self.periodic,
            positions=self._chunk_positions if with_user else None,
            timestep_ps=self._integrator.getStepSize().value_in_unit(unit.picosecond),
            velocities=self.include_velocities, forces=self.include_forces,
        )
        if self.include_energies and (not with_user or self._energy_schedule.due()):
            frame.update(self._energy_frame(frame[keys.SIMULATION_TIME], with_temperature=with_user))
        if with_user:
            frame.update(self._user.frame())
        return frame

    def _energy_frame(self, time_ps: float, *, with_temperature: bool) -> FrameDict:
        """Energies (and temperature) now, stamped with their simulation time; the schedule told its cost."""
        started = time.perf_counter()
        frame = energy_frame(self._context, time_ps, name=self.name, degrees=self._dof if with_temperature else 0)
        self._energy_schedule.evaluated(time.perf_counter() - started)
        return frame



def _snapshot(context: openmm.Context) -> openmm.State:
    """What a reset or a rollback returns ``context`` to: positions, velocities, box, time, parameters.

    A ``State`` and ``setState``, not a checkpoint: OpenMM 8's CPU platform keeps about 2.6 KB
    for ever on each ``loadCheckpoint`` (its random generator's state), so a long session that
    resets and recovers often grew without end. The thermostat's generator is left as it is;
    ``reset`` reseeds it.
    """
    return context.getState(getPositions=True, getVelocities=True, getParameters=True)
