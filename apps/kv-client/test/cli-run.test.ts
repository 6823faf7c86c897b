import { Readable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import type { TxnRequest } from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import { type ClientLike, runCli } from '../src/cli/main.js';
import { KvClientError } from '../src/errors.js';
import type { KvClientOptions } from '../src/index.js';

const header = { clusterId: 1n, memberId: 2n, revision: 3n, raftTerm: 4n };

function fakeClient(calls: unknown[][], failWith?: KvClientError): ClientLike {
  const answer = <T>(name: string, args: unknown[], value: T): Promise<T> => {
    calls.push([name, ...args]);
    return failWith ? Promise.reject(failWith) : Promise.resolve(value);
  };
  return {
    put: (...args) => answer('put', args, { header, prevKv: null }),
    get: (...args) =>
      answer('get', args, {
        header,
        kvs: [
          {
            key: Buffer.from('k'),
            value: Buffer.from('v'),
            createRevision: 1n,
            modRevision: 1n,
            version: 1n,
            lease: 0n,
          },
        ],
        more: false,
        count: 1n,
      }),
    delete: (...args) => answer('delete', args, { header, deleted: 2n, prevKvs: [] }),
    txnRequest: (...args) => answer('txn', args, { header, succeeded: false, responses: [] }),
    compact: (...args) => answer('compact', args, { header }),
    memberList: (...args) => answer('memberList', args, { header, members: [] }),
    memberAdd: (...args) => answer('memberAdd', args, { header, member: null, members: [] }),
    memberRemove: (...args) => answer('memberRemove', args, { header, members: [] }),
    memberUpdate: (...args) => answer('memberUpdate', args, { header, members: [] }),
    memberPromote: (...args) => answer('memberPromote', args, { header, members: [] }),
    moveLeader: (...args) =>
      answer('moveLeader', args, { header: null, previousLeader: 2n, leaderEndpoint: 'a:1' }),
    status: (...args) => answer('status', args, Promise.reject(new Error('unused')) as never),
    close: () => {
      calls.push(['close']);
    },
  } as Partial<ClientLike> as ClientLike;
}

async function run(argv: string[], options: { stdin?: string; fail?: KvClientError } = {}) {
  let stdout = '';
  let stderr = '';
  const calls: unknown[][] = [];
  const made: KvClientOptions[] = [];
  const code = await runCli(
    argv,
    {
      stdout: { write: (chunk) => (stdout += Buffer.from(chunk).toString()) },
      stderr: { write: (chunk) => (stderr += Buffer.from(chunk).toString()) },
      stdin: Readable.from([Buffer.from(options.stdin ?? '')]),
    },
    {
      makeClient: (clientOptions) => {
        made.push(clientOptions);
        return fakeClient(calls, options.fail);
      },
    },
  );
  return { code, stdout, stderr, calls, made };
}

describe('raftkitctl (no server)', () => {
  it('put prints OK and passes the global timeouts to the client', async () => {
    const result = await run([
      'put',
      'k',
      'v',
      '--endpoints',
      'a:1,b:2',
      '--command-timeout',
      '3s',
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'OK\n', stderr: '' });
    expect(result.calls[0]).toEqual(['put', 'k', 'v', {}]);
    expect(result.made[0]).toEqual({
      endpoints: ['a:1', 'b:2'],
      dialTimeoutMs: 2000,
      requestTimeoutMs: 3000,
    });
    expect(result.calls.at(-1)).toEqual(['close']);
  });

  it('put reads the value from stdin when it is not given', async () => {
    const result = await run(['put', 'k'], { stdin: 'from stdin' });
    expect(result.calls[0]).toEqual(['put', 'k', 'from stdin', {}]);
  });

  it('get prints key and value lines', async () => {
    const result = await run(['get', 'k', '--prefix']);
    expect(result.stdout).toBe('k\nv\n');
    expect(result.calls[0]).toEqual(['get', 'k', { prefix: true }]);
  });

  it('del prints the count', async () => {
    expect((await run(['del', 'a', 'c'])).stdout).toBe('2\n');
  });

  it('txn reads its three sections from stdin', async () => {
    const result = await run(['txn'], { stdin: 'value("k") = "v"\n\nput k w\n\nget k\n\n' });
    expect(result.stdout).toBe('FAILURE\n');
    const request = result.calls[0]?.[1] as TxnRequest;
    expect([request.compare?.length, request.success?.length, request.failure?.length]).toEqual([
      1, 1, 1,
    ]);
  });

  it('txn -i prompts like etcdctl', async () => {
    const result = await run(['txn', '-i'], { stdin: '\n\n\n' });
    expect(result.stdout).toBe(
      'compares:\nsuccess requests (get, put, del):\nfailure requests (get, put, del):\nFAILURE\n',
    );
  });

  it('compaction prints the revision', async () => {
    expect((await run(['compaction', '5'])).stdout).toBe('compacted revision 5\n');
    expect((await run(['compaction', 'x'])).code).toBe(1);
  });

  it('exits 1 with etcd’s message on a server error', async () => {
    const fail = new KvClientError(status.INVALID_ARGUMENT, 'etcdserver: key is not provided');
    const result = await run(['put', '', 'v'], { fail });
    expect(result).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Error: etcdserver: key is not provided\n',
    });
  });

  it('exits 1 on bad flags and bad input, 0 on --help', async () => {
    const bad = await run(['get', 'k', '--nope']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: unknown flag: --nope\n/);
    expect(bad.calls).toEqual([]);
    expect((await run(['get'])).code).toBe(1);
    expect(await run(['member', 'frob'])).toMatchObject({ code: 1, calls: [] });
    expect((await run(['txn'], { stdin: 'nonsense\n\n' })).stderr).toMatch(/malformed comparison/);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: raftkitctl');
    expect((await run([])).code).toBe(0);
    expect((await run(['version'])).stdout).toMatch(/^raftkitctl version: /);
  });
});
