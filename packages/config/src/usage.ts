import { envName, SETTINGS, type SettingSpec } from './settings.js';

const GROUP_TITLES: Readonly<Record<SettingSpec['group'], string>> = {
  member: 'Member',
  clustering: 'Clustering',
  security: 'Security',
  logging: 'Logging',
};

/**
 * formatUsage returns the `--help` text: every flag with its default and its
 * `RAFTKIT_*` variable, grouped as etcd's help is, and the precedence rules.
 * `command` is the program name shown in the first line.
 */
export function formatUsage(command = 'raftkit-kv-server'): string {
  const lines = [
    `Usage: ${command} [flags]`,
    '',
    "Takes etcd's flags with etcd's meanings. Every flag --my-flag can also be set by the",
    'environment variable RAFTKIT_MY_FLAG; setting both is an error. With --config-file (or',
    'RAFTKIT_CONFIG_FILE) the YAML file is the only source: other flags and variables are',
    'ignored. Its keys are the flag names; TLS files nest under client-transport-security',
    "and peer-transport-security, as in etcd's config file.",
  ];
  for (const group of Object.keys(GROUP_TITLES) as Array<SettingSpec['group']>) {
    lines.push('', `${GROUP_TITLES[group]}:`);
    for (const spec of SETTINGS.filter((candidate) => candidate.group === group)) {
      const value =
        spec.kind === 'boolean'
          ? ''
          : ` <${spec.kind === 'urls' ? 'urls' : spec.kind === 'integer' ? 'n' : 'value'}>`;
      lines.push(`  --${spec.flag}${value}`);
      lines.push(`      ${spec.help}`);
      const details = [
        spec.defaultText === '' ? undefined : `default: ${spec.defaultText}`,
        `env: ${envName(spec.flag)}`,
      ].filter((detail) => detail !== undefined);
      lines.push(`      ${details.join('; ')}`);
    }
  }
  lines.push('', '  -h, --help', '      Show this help and exit.', '');
  return lines.join('\n');
}
