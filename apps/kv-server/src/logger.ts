import type { Logger as CoreLogger, LogFields } from '@raftkit/core';
import { pino } from 'pino';

/** ServerLogger is the pino logger the server writes structured JSON lines with. */
export type ServerLogger = pino.Logger;

/** createServerLogger makes a JSON logger on stderr at `level`, tagged with the member name. */
export function createServerLogger(name: string, level: string): ServerLogger {
  return pino(
    { level, base: { member: name }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination(2),
  );
}

/** toCoreLogger adapts pino to the core's `Logger` port (message first, fields second). */
export function toCoreLogger(logger: ServerLogger, component: string): CoreLogger {
  const child = logger.child({ component });
  return {
    debug: (message: string, fields?: LogFields) => child.debug(fields ?? {}, message),
    info: (message: string, fields?: LogFields) => child.info(fields ?? {}, message),
    warn: (message: string, fields?: LogFields) => child.warn(fields ?? {}, message),
    error: (message: string, fields?: LogFields) => child.error(fields ?? {}, message),
  };
}
