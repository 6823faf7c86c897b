import type { Message } from '../message.js';
import type { RandomSource } from '../ports.js';
import type { NodeId } from '../types.js';

/** NetworkFaults are the misbehaviours a SimulatedNetwork injects, each drawn from the seed. */
export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered twice. */
  readonly duplicateRate: number;
  /** Largest delay, in rounds, before a message can be delivered (0 = next delivery). */
  readonly maxDelay: number;
  /** Deliver deliverable messages in random order instead of send order. */
  readonly reorder: boolean;
}

/** RELIABLE_NETWORK delivers everything, once, in order, without delay. */
export const RELIABLE_NETWORK: NetworkFaults = {
  dropRate: 0,
  duplicateRate: 0,
  maxDelay: 0,
  reorder: false,
};

/** UNRELIABLE_NETWORK loses, duplicates, delays and reorders messages. */
export const UNRELIABLE_NETWORK: NetworkFaults = {
  dropRate: 0.1,
  duplicateRate: 0.05,
  maxDelay: 3,
  reorder: true,
};

interface InFlight {
  readonly message: Message;
  readonly deliverAt: number;
}

/**
 * SimulatedNetwork carries messages between simulated nodes: links can be cut in either
 * direction, and faults are injected from a seeded random source, so a run is exactly
 * reproducible. Time is counted in rounds (`advanceRound`).
 */
export class SimulatedNetwork {
  faults: NetworkFaults;
  private inFlight: InFlight[] = [];
  private readonly cut = new Set<string>();
  private round = 0;
  /** Counters for reports. */
  readonly stats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  /**
   * Snapshot messages that were lost, in order: a real transport reports a failed
   * transfer to the sender (`reportSnapshot(to, 'failure')`); the cluster drains this.
   */
  readonly lostSnapshots: { from: NodeId; to: NodeId }[] = [];

  private lose(message: Message): void {
    this.stats.dropped++;
    if (message.type === 'MsgSnap') this.lostSnapshots.push({ from: message.from, to: message.to });
  }

  constructor(
    private readonly random: RandomSource,
    faults: NetworkFaults = RELIABLE_NETWORK,
  ) {
    this.faults = faults;
  }

  private chance(probability: number): boolean {
    return probability > 0 && this.random(1_000_000) < probability * 1_000_000;
  }

  /** send queues messages, applying loss, duplication and delay. */
  send(messages: readonly Message[]): void {
    for (const message of messages) {
      this.stats.sent++;
      if (!this.connected(message.from, message.to) || this.chance(this.faults.dropRate)) {
        this.lose(message);
        continue;
      }
      const copies = this.chance(this.faults.duplicateRate) ? 2 : 1;
      if (copies === 2) this.stats.duplicated++;
      for (let i = 0; i < copies; i++) {
        const delay = this.faults.maxDelay > 0 ? this.random(this.faults.maxDelay + 1) : 0;
        this.inFlight.push({ message, deliverAt: this.round + delay });
      }
    }
  }

  /** connected reports whether messages from `from` reach `to`. */
  connected(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(`${from}>${to}`);
  }

  /** cutLink stops messages from `from` to `to` (one direction). */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** isolate cuts every link into and out of `id`. */
  isolate(id: NodeId, all: readonly NodeId[]): void {
    for (const other of all) {
      if (other === id) continue;
      this.cutLink(id, other);
      this.cutLink(other, id);
    }
  }

  /** partition splits the nodes into groups that only talk within themselves. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.heal();
    for (const group of groups) {
      for (const other of groups) {
        if (other === group) continue;
        for (const a of group) for (const b of other) this.cutLink(a, b);
      }
    }
  }

  /** reconnect restores every link of `id`. */
  reconnect(id: NodeId): void {
    for (const link of [...this.cut]) {
      const [from, to] = link.split('>');
      if (Number(from) === id || Number(to) === id) this.cut.delete(link);
    }
  }

  /** heal restores every link. */
  heal(): void {
    this.cut.clear();
  }

  /** dropTo discards every in-flight message to `id` (its process died). */
  dropTo(id: NodeId): void {
    for (const item of this.inFlight) if (item.message.to === id) this.lose(item.message);
    this.inFlight = this.inFlight.filter((item) => item.message.to !== id);
  }

  /** advanceRound moves simulated time forward by one round. */
  advanceRound(): void {
    this.round++;
  }

  /** pending is the number of messages in flight. */
  pending(): number {
    return this.inFlight.length;
  }

  /**
   * takeDeliverable removes and returns one deliverable message (random when reordering),
   * or undefined when none is due. A message whose link was cut meanwhile is dropped.
   */
  takeDeliverable(): Message | undefined {
    for (;;) {
      let position = -1;
      if (this.faults.reorder) {
        const due: number[] = [];
        for (let i = 0; i < this.inFlight.length; i++)
          if (this.inFlight[i]!.deliverAt <= this.round) due.push(i);
        if (due.length > 0) position = due[this.random(due.length)]!;
      } else {
        position = this.inFlight.findIndex((item) => item.deliverAt <= this.round);
      }
      if (position < 0) return undefined;
      const [item] = this.inFlight.splice(position, 1);
      const message = item!.message;
      if (!this.connected(message.from, message.to)) {
        this.lose(message);
        continue;
      }
      this.stats.delivered++;
      return message;
    }
  }

  /** takeAllDeliverable returns every due message in delivery order. */
  takeAllDeliverable(): Message[] {
    const out: Message[] = [];
    for (
      let message = this.takeDeliverable();
      message !== undefined;
      message = this.takeDeliverable()
    ) {
      out.push(message);
    }
    return out;
  }
}
