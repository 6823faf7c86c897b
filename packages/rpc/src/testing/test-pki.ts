import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** TestCertificate is one PEM certificate, its key, and where both are on disk. */
export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * TestPki is a throwaway public-key infrastructure for TLS tests: a CA and the leaves it
 * signed (each usable as server and client certificate for 127.0.0.1 and localhost, as
 * etcd's peer certificates are), and a rogue CA with a leaf `rogue` that looks the same
 * but is signed by the wrong authority. `remove()` deletes the directory.
 */
export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  readonly caFile: string;
  readonly rogueCa: string;
  readonly leaves: Readonly<Record<string, TestCertificate>>;
  readonly rogue: TestCertificate;
  remove(): void;
}

/** hasOpenssl tells whether the `openssl` CLI that makeTestPki needs is installed. */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * makeTestPki creates a CA and one leaf certificate per name (P-256 keys, ten years) in a
 * new temp directory with the `openssl` CLI. Test-only: the keys are unencrypted.
 */
export function makeTestPki(names: readonly string[]): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-test-pki-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  writeFileSync(
    join(dir, 'leaf.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
  );
  const authority = (name: string) =>
    run(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '3650',
      '-subj',
      `/CN=${name}`,
    );
  const leaf = (name: string, ca: string): TestCertificate => {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '3650',
      '-extfile',
      'leaf.ext',
    );
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    return {
      cert: readFileSync(certFile, 'utf8'),
      key: readFileSync(keyFile, 'utf8'),
      certFile,
      keyFile,
    };
  };
  try {
    authority('raftkit-test-ca');
    authority('rogue-ca');
    const leaves: Record<string, TestCertificate> = {};
    for (const name of names) leaves[name] = leaf(name, 'raftkit-test-ca');
    const rogue = leaf('rogue', 'rogue-ca');
    const caFile = join(dir, 'raftkit-test-ca.crt');
    return {
      dir,
      ca: readFileSync(caFile, 'utf8'),
      caFile,
      rogueCa: readFileSync(join(dir, 'rogue-ca.crt'), 'utf8'),
      leaves,
      rogue,
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
