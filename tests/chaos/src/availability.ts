// Availability per nemesis phase: the share of operations invoked in a phase that were
// acknowledged.
import type { Op } from './history.js';

/** Phase is a stretch of the run with one fault (or `none`) in force. */
export interface Phase {
  readonly name: string;
  /** start and end are milliseconds since the run started. */
  readonly start: number;
  readonly end: number;
  /** detail says which members or links the fault touched. */
  readonly detail?: string;
}

/** PhaseAvailability is one phase's operation counts. */
export interface PhaseAvailability {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly detail?: string;
  readonly ops: number;
  readonly ok: number;
  /** availability is ok / ops (1 when the phase saw no operations). */
  readonly availability: number;
}

/** availabilityByPhase counts each operation in the phase its invocation fell into. */
export function availabilityByPhase(
  ops: readonly Op[],
  phases: readonly Phase[],
): PhaseAvailability[] {
  return phases.map((phase) => {
    const inPhase = ops.filter((op) => op.invoke >= phase.start && op.invoke < phase.end);
    const ok = inPhase.filter((op) => op.outcome === 'ok').length;
    return {
      ...phase,
      ops: inPhase.length,
      ok,
      availability: inPhase.length === 0 ? 1 : ok / inPhase.length,
    };
  });
}

/** availabilityByNemesis sums the phases of each nemesis name. */
export function availabilityByNemesis(
  phases: readonly PhaseAvailability[],
): Record<string, { phases: number; ops: number; ok: number; availability: number }> {
  const out: Record<string, { phases: number; ops: number; ok: number; availability: number }> = {};
  for (const phase of phases) {
    const entry = out[phase.name] ?? { phases: 0, ops: 0, ok: 0, availability: 1 };
    entry.phases++;
    entry.ops += phase.ops;
    entry.ok += phase.ok;
    entry.availability = entry.ops === 0 ? 1 : entry.ok / entry.ops;
    out[phase.name] = entry;
  }
  return out;
}
