import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { TlsConfigError } from './errors.js';

/**
 * TlsOptions configure TLS for peer traffic, as etcd's `--peer-cert-file`,
 * `--peer-key-file`, `--peer-trusted-ca-file` and `--peer-client-cert-auth` do. One set
 * serves both directions: the server presents cert/key to dialling peers, and the
 * transport presents the same pair as its client certificate. Give file paths or PEM
 * contents (PEM wins when both are set). Files are read once, at construction.
 */
export interface TlsOptions {
  readonly certFile?: string;
  readonly keyFile?: string;
  /** caFile holds the CAs that sign peer certificates; without it, system roots are used. */
  readonly caFile?: string;
  readonly cert?: string | Uint8Array;
  readonly key?: string | Uint8Array;
  readonly ca?: string | Uint8Array;
  /**
   * clientCertAuth makes the server demand a client certificate signed by the CA and
   * refuse peers without one (mutual TLS). It needs `ca`/`caFile`.
   */
  readonly clientCertAuth?: boolean;
  /** serverNameOverride is the name the transport expects in the peer's certificate. */
  readonly serverNameOverride?: string;
}

interface TlsMaterial {
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  readonly ca: Buffer | undefined;
}

function pem(
  value: string | Uint8Array | undefined,
  file: string | undefined,
  what: string,
): Buffer | undefined {
  if (value !== undefined) return Buffer.from(value);
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsConfigError(
      `cannot read the ${what} file ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function source(file: string | undefined, inline: unknown): string {
  return inline !== undefined || file === undefined ? 'the given PEM' : file;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function certificate(pemBytes: Buffer, from: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pemBytes);
  } catch (error) {
    throw new TlsConfigError(`${from} is not a PEM ${what} (${reason(error)})`);
  }
}

function privateKey(pemBytes: Buffer, from: string): KeyObject {
  try {
    return createPrivateKey(pemBytes);
  } catch (error) {
    throw new TlsConfigError(`${from} is not an unencrypted PEM private key (${reason(error)})`);
  }
}

// Checked here, once, so that a wrong file is refused with its name before anything
// listens or dials; grpc-js would otherwise fail later with OpenSSL's bare words.
function material(options: TlsOptions): TlsMaterial {
  const cert = pem(options.cert, options.certFile, 'certificate');
  const key = pem(options.key, options.keyFile, 'private key');
  const ca = pem(options.ca, options.caFile, 'CA');
  if ((cert === undefined) !== (key === undefined)) {
    throw new TlsConfigError('a certificate and its private key must be given together');
  }
  if (cert !== undefined && key !== undefined) {
    const certFrom = source(options.certFile, options.cert);
    const keyFrom = source(options.keyFile, options.key);
    const x509 = certificate(cert, certFrom, 'certificate');
    if (!x509.checkPrivateKey(privateKey(key, keyFrom))) {
      throw new TlsConfigError(`the private key ${keyFrom} does not belong to ${certFrom}`);
    }
  }
  if (ca !== undefined) certificate(ca, source(options.caFile, options.ca), 'CA certificate');
  return { cert, key, ca };
}

/**
 * checkTlsOptions reads and checks TLS options the way `serverCredentials` does (files
 * readable, PEM certificates and key that parse, the key matching the certificate, a CA
 * for `clientCertAuth`) and throws a TlsConfigError naming what is wrong, so that a
 * server can refuse bad settings before it opens anything.
 */
export function checkTlsOptions(options: TlsOptions): void {
  serverCredentials(options);
}

/**
 * serverCredentials builds the RaftServer's credentials: insecure without options, TLS
 * with them, mutual TLS when `clientCertAuth` is set.
 */
export function serverCredentials(options: TlsOptions | undefined): grpc.ServerCredentials {
  if (options === undefined) return grpc.ServerCredentials.createInsecure();
  const { cert, key, ca } = material(options);
  if (cert === undefined || key === undefined) {
    throw new TlsConfigError('the peer server needs certFile/cert and keyFile/key');
  }
  if (options.clientCertAuth === true && ca === undefined) {
    throw new TlsConfigError(
      'clientCertAuth needs caFile/ca: the CA that signs the peers’ client certificates',
    );
  }
  return grpc.ServerCredentials.createSsl(
    ca ?? null,
    [{ private_key: key, cert_chain: cert }],
    options.clientCertAuth === true,
  );
}

/**
 * channelCredentials builds the transport's credentials: insecure without options, else
 * TLS verifying the peer against `ca` (system roots if absent), presenting cert/key as
 * the client certificate when given.
 */
export function channelCredentials(options: TlsOptions | undefined): grpc.ChannelCredentials {
  if (options === undefined) return grpc.credentials.createInsecure();
  const { cert, key, ca } = material(options);
  return grpc.credentials.createSsl(ca ?? null, key ?? null, cert ?? null);
}
