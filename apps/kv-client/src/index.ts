/** @raftkit/kv-client is not built yet (see its issue). */
export const packageName = '@raftkit/kv-client';
