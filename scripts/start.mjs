#!/usr/bin/env node
// `pnpm start`: a local 3-member kv-server cluster on loopback.
import { existsSync } from 'node:fs';

const entry = new URL('../apps/kv-server/dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.log(
    'raftkit: the kv-server is not built yet (issue "apps/kv-server and apps/kv-client").',
  );
  console.log('Today you can run the test suite with `pnpm test`, and the core simulator with');
  console.log('`pnpm --filter @raftkit/core sim -- --seeds 100`.');
  process.exit(0);
}
await import(new URL('./start-cluster.mjs', import.meta.url).href);
