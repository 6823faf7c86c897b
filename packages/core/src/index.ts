export const packageName = '@raftkit/core';
