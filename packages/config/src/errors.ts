import { RaftError } from '@raftkit/core';

/**
 * COMMAND_LINE is the `setting` of a ConfigValidationError about the command line as a
 * whole (a stray positional argument) rather than one setting.
 */
export const COMMAND_LINE = 'command-line';

/**
 * ConfigValidationError says which server setting is wrong, why, and what to do. It is
 * thrown by `parseServerConfig` before anything is opened or bound, so a bad setting
 * never half-starts a server.
 */
export class ConfigValidationError extends RaftError {
  /**
   * setting is the flag name without dashes (`initial-cluster`), which is also the
   * config-file key, or `COMMAND_LINE`.
   */
  readonly setting: string;
  /**
   * source is where the bad value came from (`--initial-cluster`,
   * `RAFTKIT_INITIAL_CLUSTER`, `config file key 'initial-cluster'`), or undefined when the
   * problem is a default or a combination of settings.
   */
  readonly source: string | undefined;

  constructor(setting: string, problem: string, fix: string, source?: string) {
    const subject = setting === COMMAND_LINE ? 'invalid command line' : `invalid --${setting}`;
    const from = source === undefined || source === `--${setting}` ? '' : ` (from ${source})`;
    super('INVALID_SERVER_CONFIG', `${subject}${from}: ${problem}; ${fix}`);
    this.setting = setting;
    this.source = source;
  }
}

/** MembershipErrorReason names why a ClusterInfo membership change was refused. */
export type MembershipErrorReason =
  | 'idExists'
  | 'idRemoved'
  | 'idNotFound'
  | 'peerUrlExists'
  | 'nodeIdCollision'
  | 'notLearner';

/**
 * MembershipError: a membership change given to ClusterInfo contradicts what it holds
 * (the same cases etcd's membership store refuses); `reason` is stable for callers.
 */
export class MembershipError extends RaftError {
  readonly reason: MembershipErrorReason;
  constructor(reason: MembershipErrorReason, message: string) {
    super('MEMBERSHIP_CONFLICT', message);
    this.reason = reason;
  }
}
