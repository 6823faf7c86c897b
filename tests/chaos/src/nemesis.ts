// Nemeses: the faults a run injects, on a seeded random schedule of quiet and faulty
// phases. Every fault returns how to undo it; the schedule always undoes it before the
// next one.
import type { Phase } from './availability.js';
import { type Clock, sleep } from './clock.js';
import type { Cluster } from './cluster.js';
import type { Network } from './network.js';
import type { Random } from './random.js';

/** NEMESES names every fault the schedule can pick. */
export const NEMESES = [
  'partition-one',
  'partition-leader',
  'partition-half',
  'partition-bridge',
  'partition-ring',
  'kill',
  'pause',
  'kill-all',
  'combo',
] as const;

/** NemesisName is one of NEMESES. */
export type NemesisName = (typeof NEMESES)[number];

/** isNemesisName narrows a string to a NemesisName. */
export function isNemesisName(name: string): name is NemesisName {
  return (NEMESES as readonly string[]).includes(name);
}

interface Fault {
  readonly detail: string;
  readonly undo: () => Promise<void>;
}

/** NemesisOptions configures the schedule. */
export interface NemesisOptions {
  readonly cluster: Cluster;
  readonly network: Network;
  readonly random: Random;
  readonly clock: Clock;
  readonly nemeses: readonly NemesisName[];
  /** quietMs and faultMs are [min, max] durations of the two kinds of phase. */
  readonly quietMs?: readonly [number, number];
  readonly faultMs?: readonly [number, number];
  readonly log?: (line: string) => void;
}

/** Nemesis injects faults until told to stop, recording each phase. */
export class Nemesis {
  /** phases is every phase so far, `none` for the quiet ones. */
  readonly phases: Phase[] = [];

  /** Creates the schedule. */
  constructor(private readonly options: NemesisOptions) {}

  private async target(preferLeader: boolean): Promise<string> {
    const { cluster, random } = this.options;
    if (preferLeader) {
      const leader = await cluster.leader(500);
      if (leader !== undefined) return leader;
    }
    return random.pick(cluster.names());
  }

  private partitionFault(name: NemesisName, members: string[], leader: string | undefined): Fault {
    const { network, random } = this.options;
    const shuffled = random.shuffle(members);
    let groups: string[][];
    let detail: string;
    switch (name) {
      case 'partition-leader':
      case 'partition-one': {
        const isolated =
          name === 'partition-leader' && leader !== undefined ? leader : (shuffled[0] as string);
        groups = [[isolated], members.filter((m) => m !== isolated)];
        detail = `isolate ${isolated}`;
        network.partition(groups);
        break;
      }
      case 'partition-half': {
        const minority = Math.floor(members.length / 2);
        groups = [shuffled.slice(0, minority), shuffled.slice(minority)];
        detail = `${groups[0]?.join(',')} | ${groups[1]?.join(',')}`;
        network.partition(groups);
        break;
      }
      case 'partition-bridge': {
        // Two halves that only the bridge member can talk to both of.
        const bridge = shuffled[0] as string;
        const rest = shuffled.slice(1);
        const half = Math.floor(rest.length / 2);
        const left = rest.slice(0, half);
        const right = rest.slice(half);
        for (const a of left) for (const b of right) network.cutBetween(a, b);
        detail = `${left.join(',')} <${bridge}> ${right.join(',')}`;
        break;
      }
      default: {
        // partition-ring: each member reaches only its two ring neighbours (with 3
        // members that is everyone, so one random link is cut instead).
        const n = shuffled.length;
        const cuts: string[] = [];
        if (n <= 3) {
          network.cutBetween(shuffled[0] as string, shuffled[1] as string);
          cuts.push(`${shuffled[0]}-${shuffled[1]}`);
        } else {
          for (let i = 0; i < n; i++) {
            for (let j = i + 2; j < n; j++) {
              if (i === 0 && j === n - 1) continue;
              network.cutBetween(shuffled[i] as string, shuffled[j] as string);
              cuts.push(`${shuffled[i]}-${shuffled[j]}`);
            }
          }
        }
        detail = `ring ${shuffled.join('-')} (cut ${cuts.join(' ')})`;
      }
    }
    return { detail, undo: async () => network.heal() };
  }

  private async apply(name: NemesisName): Promise<Fault> {
    const { cluster, random } = this.options;
    const members = cluster.names();
    switch (name) {
      case 'kill': {
        const victim = await this.target(random.next() < 0.5);
        await cluster.kill(victim);
        return { detail: `kill -9 ${victim}`, undo: async () => cluster.startMember(victim) };
      }
      case 'pause': {
        const victim = await this.target(random.next() < 0.5);
        cluster.pause(victim);
        return { detail: `SIGSTOP ${victim}`, undo: async () => cluster.resume(victim) };
      }
      case 'kill-all': {
        await Promise.all(members.map((m) => cluster.kill(m)));
        return { detail: 'kill -9 all', undo: async () => cluster.recover() };
      }
      case 'combo': {
        const partition = random.pick([
          'partition-one',
          'partition-leader',
          'partition-half',
          'partition-bridge',
          'partition-ring',
        ] as const);
        const leader = partition === 'partition-leader' ? await cluster.leader(500) : undefined;
        const cut = this.partitionFault(partition, members, leader);
        const process = random.pick(['kill', 'pause'] as const);
        const other = await this.apply(process);
        return {
          detail: `${partition} ${cut.detail} + ${other.detail}`,
          undo: async () => {
            await cut.undo();
            await other.undo();
          },
        };
      }
      default: {
        const leader = name === 'partition-leader' ? await cluster.leader(500) : undefined;
        return this.partitionFault(name, members, leader);
      }
    }
  }

  /**
   * run alternates quiet and faulty phases until `endMs` (clock time), then undoes the
   * last fault. It never leaves a fault in place.
   */
  async run(endMs: number): Promise<void> {
    const { clock, random, nemeses, log } = this.options;
    const [quietMin, quietMax] = this.options.quietMs ?? [2000, 4000];
    const [faultMin, faultMax] = this.options.faultMs ?? [4000, 8000];
    while (clock.now() < endMs) {
      const quietStart = clock.now();
      await sleep(Math.min(random.int(quietMin, quietMax), Math.max(0, endMs - quietStart)));
      this.phases.push({ name: 'none', start: quietStart, end: clock.now() });
      if (clock.now() >= endMs || nemeses.length === 0) continue;
      const name = random.pick(nemeses);
      const start = clock.now();
      const fault = await this.apply(name);
      log?.(`nemesis ${name}: ${fault.detail} at ${(start / 1000).toFixed(1)}s`);
      const hold = name === 'kill-all' ? random.int(1000, 3000) : random.int(faultMin, faultMax);
      await sleep(Math.min(hold, Math.max(0, endMs - clock.now())));
      await fault.undo();
      this.phases.push({ name, start, end: clock.now(), detail: fault.detail });
    }
  }
}
