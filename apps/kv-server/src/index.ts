/** @raftkit/kv-server is not built yet (see its issue). */
export const packageName = '@raftkit/kv-server';
