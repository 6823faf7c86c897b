/** @raftkit/storage is scaffolded; its issue builds the real API. */
export const packageName = '@raftkit/storage';
