export {
  type ClusterChange,
  type ClusterChangeListener,
  ClusterInfo,
  type ClusterInfoOptions,
  type ClusterMember,
  type MemberRole,
  type MemberSpec,
  type MemberStatus,
  type MemberUpdate,
} from './cluster-info.js';
export { isHelpRequested, type SourceOptions } from './config-sources.js';
export {
  COMMAND_LINE,
  ConfigValidationError,
  MembershipError,
  type MembershipErrorReason,
} from './errors.js';
export {
  formatInitialCluster,
  type InitialMember,
  parseInitialCluster,
} from './initial-cluster.js';
export {
  computeClusterId,
  computeMemberId,
  formatMemberId,
  NODE_ID_MASK,
  parseMemberId,
  toNodeId,
} from './member-id.js';
export {
  AUTO_COMPACTION_MODES,
  type AutoCompactionMode,
  type BootstrapMember,
  type ClusterBootstrap,
  type ClusterState,
  LOG_LEVELS,
  type LogLevel,
  MAX_ELECTION_TIMEOUT_MS,
  MIN_ELECTION_TO_HEARTBEAT_RATIO,
  type ParseOptions,
  parseGoDurationMs,
  parseServerConfig,
  type ServerConfig,
  type TlsSettings,
} from './server-config.js';
export { envName, SETTINGS, type SettingKind, type SettingSpec } from './settings.js';
export { canonicalUrl, parseUrlList, type UrlContext, type UrlUse } from './url-list.js';
export { formatUsage } from './usage.js';
