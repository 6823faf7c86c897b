import { describe, expect, it } from 'vitest';
import { MemoryLogStore, type Message, RawNode } from '../src/index.js';

// The "Driving a RawNode by hand" example of the README, kept runnable.
describe('README example: driving a RawNode by hand', () => {
  it('elects node 1 and applies one proposal on all three nodes', () => {
    const ids = [1, 2, 3];
    const nodes = new Map(
      ids.map((id) => {
        const store = new MemoryLogStore({
          voters: ids,
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        });
        return [
          id,
          { store, raw: new RawNode({ id, peers: ids }, store), applied: [] as string[] },
        ];
      }),
    );
    const network: Message[] = [];

    function handleReadys() {
      for (const node of nodes.values()) {
        while (node.raw.hasReady()) {
          const ready = node.raw.ready();
          network.push(...ready.messages);
          node.store.apply({
            hardState: ready.hardState,
            entries: ready.entries,
            snapshot: ready.snapshot,
          });
          network.push(...ready.persistedMessages);
          for (const entry of ready.committedEntries) {
            if (entry.data.length > 0) node.applied.push(new TextDecoder().decode(entry.data));
          }
          node.raw.advance(ready);
        }
      }
    }

    function stabilize() {
      handleReadys();
      while (network.length > 0) {
        for (const message of network.splice(0)) nodes.get(message.to)!.raw.step(message);
        handleReadys();
      }
    }

    nodes.get(1)!.raw.campaign();
    stabilize();
    nodes.get(1)!.raw.propose(new TextEncoder().encode('hello'));
    stabilize();
    expect([...nodes.values()].map((node) => node.applied)).toEqual([
      ['hello'],
      ['hello'],
      ['hello'],
    ]);
  });
});
