#!/usr/bin/env node
import {
  ConfigValidationError,
  formatUsage,
  isHelpRequested,
  parseServerConfig,
} from '@raftkit/config';
import { RaftError } from '@raftkit/core';
import { KvServer } from './kv-server.js';
import { createServerLogger } from './logger.js';

// raftkit-server: one kv-server member, started with etcd's flags (see --help).
const argv = process.argv.slice(2);
if (isHelpRequested(argv)) {
  console.log(formatUsage('raftkit-server'));
  process.exit(0);
}

let config: ReturnType<typeof parseServerConfig>;
try {
  config = parseServerConfig(argv, process.env);
} catch (error) {
  if (error instanceof ConfigValidationError) {
    console.error(`raftkit-server: ${error.message}`);
    console.error('raftkit-server: see --help for every setting');
    process.exit(2);
  }
  throw error;
}

const logger = createServerLogger(config.name, config.logLevel);
for (const warning of config.warnings) logger.warn(warning);

let server: KvServer;
try {
  server = await KvServer.start(config, logger);
} catch (error) {
  // A corrupt or foreign data dir, a port in use, a bad certificate: say what and stop,
  // never start empty over data we cannot read.
  const message = error instanceof RaftError ? `${error.code}: ${error.message}` : String(error);
  logger.fatal({ error: message }, 'kv-server could not start');
  console.error(`raftkit-server: could not start: ${message}`);
  process.exit(1);
}

let firstSignalAt: number | undefined;
const shutdown = (signal: string) => {
  const now = Date.now();
  if (firstSignalAt !== undefined) {
    // A terminal's Ctrl-C reaches the whole process group, so a supervisor (pnpm start)
    // and the member may both pass it on: signals within a second count as one.
    if (now - firstSignalAt < 1000) return;
    logger.warn({ signal }, 'second signal: exiting at once');
    process.exit(1);
  }
  firstSignalAt = now;
  logger.info({ signal }, 'shutting down');
  server.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ error: String(error) }, 'error while shutting down');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
