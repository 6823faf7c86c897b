import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { COMMAND_LINE, ConfigValidationError } from './errors.js';
import {
  closestName,
  ENV_PREFIX,
  envName,
  isUnsupportedEtcdSetting,
  SETTINGS,
  SETTINGS_BY_FLAG,
  type SettingSpec,
} from './settings.js';

/** RawValue is a setting's value before validation: text from flags and env, or YAML data. */
export type RawValue = string | number | boolean | readonly string[];

/** RawSetting is a raw value and where it came from (`--name`, `RAFTKIT_NAME`, a file key). */
export interface RawSetting {
  readonly value: RawValue;
  readonly source: string;
}

/** CollectedSettings are the raw values that won, by flag name, and what the operator should hear. */
export interface CollectedSettings {
  readonly values: ReadonlyMap<string, RawSetting>;
  readonly configFile: string | undefined;
  readonly warnings: readonly string[];
}

/** SourceOptions let tests and embedders replace the file system. */
export interface SourceOptions {
  /** readFile returns a config file's text; default `fs.readFileSync(path, 'utf8')`. */
  readonly readFile?: (path: string) => string;
}

const HELP_ARGS = new Set(['-h', '--help', '-help']);

/** isHelpRequested reports whether argv asks for usage (`-h`, `--help`) before any `--`. */
export function isHelpRequested(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (HELP_ARGS.has(arg)) return true;
  }
  return false;
}

/**
 * collectSettings gathers raw settings with etcd's precedence: a command-line flag
 * beats its environment variable, and setting both is an error (etcd refuses it too, so
 * a forgotten variable cannot silently lose); when a config file is given (by
 * `--config-file` or `RAFTKIT_CONFIG_FILE`) it is the only source and every other flag
 * and variable is ignored, with a warning. Unknown flags are refused even then.
 */
export function collectSettings(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: SourceOptions = {},
): CollectedSettings {
  const warnings: string[] = [];
  const flags = readFlags(argv);
  const fromEnv = new Map<string, RawSetting>();
  for (const spec of SETTINGS) {
    const name = envName(spec.flag);
    const text = env[name];
    // etcd ignores empty variables, so `RAFTKIT_X=` is the same as unset.
    if (text === undefined || text === '') continue;
    const flag = flags.get(spec.flag);
    if (flag !== undefined) {
      throw new ConfigValidationError(
        spec.flag,
        `both ${flag.source} and the environment variable ${name} are set`,
        `unset ${name} or drop the flag (etcd refuses this combination too)`,
        name,
      );
    }
    fromEnv.set(spec.flag, { value: text, source: name });
  }
  warnings.push(...environmentWarnings(env));

  const configFileSetting = flags.get('config-file') ?? fromEnv.get('config-file');
  if (configFileSetting === undefined) {
    const values = new Map<string, RawSetting>([...fromEnv, ...flags]);
    return { values, configFile: undefined, warnings };
  }
  const path = String(configFileSetting.value);
  if (path === '') {
    throw new ConfigValidationError(
      'config-file',
      'the path is empty',
      'give the path of a YAML config file, or drop the flag',
      configFileSetting.source,
    );
  }
  const ignored = [
    ...[...flags.values()].map((setting) => setting.source),
    ...[...fromEnv.values()].map((setting) => setting.source),
  ].filter((source) => source !== configFileSetting.source);
  if (ignored.length > 0) {
    warnings.push(
      `a config file is given (${path}), so these settings were ignored, as etcd does: ${ignored.join(', ')}; put them in the file instead`,
    );
  }
  const unimplemented: string[] = [];
  const values = readConfigFile(path, configFileSetting.source, options, unimplemented);
  if (unimplemented.length > 0) {
    warnings.push(
      `these config file keys are etcd settings raftkit does not implement and were ignored: ${unimplemented.join(', ')}`,
    );
  }
  return { values, configFile: path, warnings };
}

function readFlags(argv: readonly string[]): Map<string, RawSetting> {
  const args = argv.map(normalizeSingleDash);
  const declared: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const spec of SETTINGS) {
    declared[spec.flag] = { type: spec.kind === 'boolean' ? 'boolean' : 'string' };
  }
  // Non-strict parsing with tokens: we do the checks ourselves, to name the flag in every
  // error and to accept etcd's `--flag=true|false` for booleans.
  const { tokens } = parseArgs({
    args,
    options: declared,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const flags = new Map<string, RawSetting>();
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      throw new ConfigValidationError(
        COMMAND_LINE,
        `unexpected argument "${token.value}"`,
        'every setting is a flag, e.g. --name=infra0 (see --help)',
      );
    }
    if (token.name === 'help') continue;
    const spec = SETTINGS_BY_FLAG.get(token.name);
    if (spec === undefined) throw unknownFlag(token.name, token.rawName);
    const source = `--${spec.flag}`;
    flags.set(spec.flag, { value: flagValue(spec, token.value, token.inlineValue), source });
  }
  return flags;
}

function flagValue(
  spec: SettingSpec,
  value: string | undefined,
  inlineValue: boolean | undefined,
): RawValue {
  if (spec.kind === 'boolean') {
    return value === undefined ? true : value;
  }
  if (value === undefined) {
    throw new ConfigValidationError(
      spec.flag,
      'the flag has no value',
      `write --${spec.flag}=VALUE or --${spec.flag} VALUE`,
    );
  }
  // `--name --data-dir x` would otherwise make "--data-dir" the name, as in Go's flag package.
  const next = /^--?([a-z][a-z0-9-]*)(=|$)/.exec(value);
  if (inlineValue !== true && next !== null && SETTINGS_BY_FLAG.has(next[1]!)) {
    throw new ConfigValidationError(
      spec.flag,
      `the flag has no value (the next argument is the flag ${value})`,
      `write --${spec.flag}=VALUE`,
    );
  }
  return value;
}

function unknownFlag(name: string, rawName: string): ConfigValidationError {
  if (isUnsupportedEtcdSetting(name)) {
    return new ConfigValidationError(
      name,
      'this etcd flag is not implemented by raftkit',
      'remove it (see --help for the flags raftkit takes)',
    );
  }
  const suggestion = closestName(name, SETTINGS_BY_FLAG.keys());
  return new ConfigValidationError(
    name,
    `unknown flag ${rawName}`,
    suggestion === undefined
      ? 'see --help for the flags raftkit takes'
      : `did you mean --${suggestion}?`,
  );
}

function normalizeSingleDash(arg: string): string {
  // Go's flag package, which etcd uses, accepts -name as well as --name.
  const match = /^-([a-z][a-z0-9-]+)(=.*)?$/.exec(arg);
  if (match === null) return arg;
  const name = match[1]!;
  return SETTINGS_BY_FLAG.has(name) || name === 'help' || isUnsupportedEtcdSetting(name)
    ? `-${arg}`
    : arg;
}

function environmentWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = new Set(SETTINGS.map((spec) => envName(spec.flag)));
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    if (name.startsWith(ENV_PREFIX) && !known.has(name)) {
      const flag = name.slice(ENV_PREFIX.length).toLowerCase().replaceAll('_', '-');
      const suggestion = closestName(flag, SETTINGS_BY_FLAG.keys());
      warnings.push(
        `unrecognized environment variable ${name}${suggestion === undefined ? '' : ` (did you mean ${envName(suggestion)}?)`}; ignored`,
      );
    } else if (name.startsWith('ETCD_')) {
      const flag = name.slice('ETCD_'.length).toLowerCase().replaceAll('_', '-');
      if (SETTINGS_BY_FLAG.has(flag)) {
        warnings.push(
          `${name} is set, but raftkit reads ${envName(flag)}, not ETCD_* variables (they may belong to an etcd on this host); ignored`,
        );
      }
    }
  }
  return warnings;
}

function readConfigFile(
  path: string,
  source: string,
  options: SourceOptions,
  unimplemented: string[],
): Map<string, RawSetting> {
  let text: string;
  try {
    text = (options.readFile ?? ((file: string) => readFileSync(file, 'utf8')))(path);
  } catch (error) {
    throw new ConfigValidationError(
      'config-file',
      `cannot read ${path}: ${(error as Error).message}`,
      'check the path and its permissions',
      source,
    );
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigValidationError(
      'config-file',
      `${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`,
      'fix the file; it is a YAML mapping of etcd setting names to values',
      source,
    );
  }
  if (document === null || document === undefined) return new Map();
  if (!isMapping(document)) {
    throw new ConfigValidationError(
      'config-file',
      `${path} is not a YAML mapping`,
      'write one "setting-name: value" per line, e.g. "name: infra0"',
      source,
    );
  }
  const values = new Map<string, RawSetting>();
  for (const [key, value] of Object.entries(document)) {
    const keySource = `config file key '${key}'`;
    if (key === 'client-transport-security' || key === 'peer-transport-security') {
      readTransportSecurity(key, value, values, unimplemented);
      continue;
    }
    const spec = SETTINGS_BY_FLAG.get(key);
    if (spec?.fileKey !== undefined) {
      throw new ConfigValidationError(
        spec.flag,
        `a config file does not take '${key}' at the top level`,
        `write it as ${spec.fileKey[0]}: { ${spec.fileKey[1]}: … }, as in etcd's config file`,
        keySource,
      );
    }
    if (spec === undefined || key === 'config-file') {
      if (value === null) continue;
      if (key === 'config-file' || isUnsupportedEtcdSetting(key)) {
        unimplemented.push(key);
        continue;
      }
      const suggestion = closestName(key, SETTINGS_BY_FLAG.keys());
      throw new ConfigValidationError(
        key,
        `unknown config file key '${key}'`,
        suggestion === undefined
          ? 'remove it (see --help for the settings raftkit takes)'
          : `did you mean '${suggestion}'?`,
        keySource,
      );
    }
    addFileValue(values, spec, value, keySource);
  }
  return values;
}

function readTransportSecurity(
  section: string,
  value: unknown,
  values: Map<string, RawSetting>,
  unimplemented: string[],
): void {
  if (value === null) return;
  const owner = section === 'peer-transport-security' ? 'peer-cert-file' : 'cert-file';
  if (!isMapping(value)) {
    throw new ConfigValidationError(
      owner,
      `config file key '${section}' is not a mapping`,
      `nest cert-file, key-file, trusted-ca-file and client-cert-auth under ${section}`,
      `config file key '${section}'`,
    );
  }
  for (const [key, inner] of Object.entries(value)) {
    const keySource = `config file key '${section}.${key}'`;
    const spec = SETTINGS.find(
      (candidate) => candidate.fileKey?.[0] === section && candidate.fileKey[1] === key,
    );
    if (spec !== undefined) {
      addFileValue(values, spec, inner, keySource);
    } else if (key === 'auto-tls' && inner !== null && inner !== false) {
      throw new ConfigValidationError(
        section === 'peer-transport-security' ? 'peer-auto-tls' : 'auto-tls',
        'raftkit does not generate self-signed certificates',
        'set auto-tls: false and give cert-file and key-file',
        keySource,
      );
    } else if (inner !== null && inner !== false && inner !== '' && key !== 'auto-tls') {
      unimplemented.push(`${section}.${key}`);
    }
  }
}

function addFileValue(
  values: Map<string, RawSetting>,
  spec: SettingSpec,
  value: unknown,
  source: string,
): void {
  // A key with no value (`data-dir:`) leaves the default, as in etcd's sample file.
  if (value === null) return;
  if (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  ) {
    values.set(spec.flag, { value, source });
    return;
  }
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    values.set(spec.flag, { value: value as string[], source });
    return;
  }
  throw new ConfigValidationError(
    spec.flag,
    `the value is a ${Array.isArray(value) ? 'list' : typeof value}, not a ${spec.kind === 'urls' ? 'comma-separated list of URLs' : spec.kind}`,
    `write e.g. ${spec.flag}: ${spec.defaultText === '' ? '…' : spec.defaultText}`,
    source,
  );
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
