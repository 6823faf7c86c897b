export const testingKit = '@raftkit/core/testing';
