import { Readable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import type { Member, MemberListResponse, ResponseHeader } from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import {
  EXIT_BAD_ARGS,
  EXIT_BAD_FEATURE,
  parseCommandLine,
  UsageError,
  usageText,
} from '../src/cli/args.js';
import {
  formatMemberAdd,
  formatMemberAddEnvironment,
  formatMemberPromote,
  formatMemberRemove,
  formatMemberUpdate,
  formatMoveLeader,
  type Output,
} from '../src/cli/format.js';
import { quoteGo } from '../src/cli/go-quote.js';
import { type ClientLike, runCli } from '../src/cli/main.js';
import {
  memberAddCommand,
  memberIdCommand,
  memberUpdateCommand,
  moveLeaderCommand,
  parseHexId,
} from '../src/cli/requests.js';
import { ETCD_ERRORS, KvClientError } from '../src/errors.js';

const text = (output: Output): string =>
  output.map((line) => Buffer.from(line).toString()).join('\n');

// A 3.4.23 cluster as etcd reported it while `etcdctl member add n4 … --learner` ran
// (members in etcd's order, by id; the new learner has no name yet).
const CLUSTER = 4281558290115968178n; // 3b6b2694877dbcb2
const header = (memberId: bigint): ResponseHeader => ({
  clusterId: CLUSTER,
  memberId,
  revision: 0n,
  raftTerm: 2n,
});
const member = (id: string, name: string, peer: string, client: string[]): Member => ({
  ID: BigInt(`0x${id}`),
  name,
  peerURLs: [peer],
  clientURLs: client,
  isLearner: name === '',
});
const N3 = member('42d206678dae7eff', 'n3', 'http://127.0.0.1:42384', ['http://127.0.0.1:42383']);
const N2 = member('97c5ca3f3e0d4f74', 'n2', 'http://127.0.0.1:42382', ['http://127.0.0.1:42381']);
const N1 = member('eab888e10709deab', 'n1', 'http://127.0.0.1:42380', ['http://127.0.0.1:42379']);
const N4 = member('a3c7b16ea01f2db8', '', 'http://127.0.0.1:42386', []);
const LIST: MemberListResponse = { header: header(N1.ID), members: [N3, N2, N4, N1] };

describe('member and move-leader command lines', () => {
  it('parses subcommands with their own flags, strictly', () => {
    const add = parseCommandLine([
      'member',
      'add',
      'n4',
      '--peer-urls',
      'http://127.0.0.1:42386',
      '--learner',
      '--endpoints=a:1',
    ]);
    expect(add).toMatchObject({
      command: 'member',
      args: ['add', 'n4'],
      flags: { 'peer-urls': 'http://127.0.0.1:42386', learner: true },
    });
    expect(parseCommandLine(['member', 'update', 'ab', '--peer-urls=http://h:1']).flags).toEqual({
      'peer-urls': 'http://h:1',
    });
    expect(parseCommandLine(['move-leader', 'ab']).args).toEqual(['ab']);
    expect(() => parseCommandLine(['member', 'list', '--learner'])).toThrow(
      'unknown flag: --learner',
    );
    expect(() => parseCommandLine(['member', 'update', '1', '--learner'])).toThrow(
      'unknown flag: --learner',
    );
    expect(() => parseCommandLine(['member', 'remove', '1', '--peer-urls=x'])).toThrow(
      'unknown flag: --peer-urls',
    );
    expect(() => parseCommandLine(['member', 'frob'])).toThrow(
      'unknown command "frob" for "raftkitctl member" (use one of: add, list, promote, remove, update)',
    );
  });

  it('reads member ids as Go’s strconv.ParseUint(s, 16, 64)', () => {
    expect(parseHexId('eab888e10709deab')).toBe(0xeab888e10709deabn);
    expect(parseHexId('FFFFFFFFFFFFFFFF')).toBe(0xffffffffffffffffn);
    expect(parseHexId('00000000000000000001')).toBe(1n);
    expect(() => parseHexId('0x12')).toThrow('strconv.ParseUint: parsing "0x12": invalid syntax');
    expect(() => parseHexId('')).toThrow('strconv.ParseUint: parsing "": invalid syntax');
    expect(() => parseHexId('-1')).toThrow('invalid syntax');
    expect(() => parseHexId('1ffffffffffffffff')).toThrow(
      'strconv.ParseUint: parsing "1ffffffffffffffff": value out of range',
    );
  });

  it('checks arguments with etcdctl’s messages and exit code 128', () => {
    const usage = (run: () => unknown): [string, number] => {
      try {
        run();
      } catch (error) {
        if (error instanceof UsageError) return [error.message, error.exitCode];
      }
      throw new Error('no UsageError');
    };
    const url = { 'peer-urls': 'http://127.0.0.1:42386' };
    expect(usage(() => memberAddCommand([], url))).toEqual([
      'member name not provided',
      EXIT_BAD_ARGS,
    ]);
    expect(usage(() => memberAddCommand(['x', 'y', 'http://a', 'HTTPS://b'], url))).toEqual([
      'too many arguments, did you mean --peer-urls=http://a, did you mean --peer-urls=HTTPS://b',
      EXIT_BAD_ARGS,
    ]);
    expect(usage(() => memberAddCommand(['x'], {}))[0]).toBe('member peer urls not provided');
    expect(usage(() => memberAddCommand(['x'], { 'peer-urls': '' }))[0]).toBe(
      'member peer urls not provided',
    );
    expect(usage(() => memberIdCommand([]))).toEqual(['member ID is not provided', 128]);
    expect(usage(() => memberIdCommand(['a', 'b']))[0]).toBe('member ID is not provided');
    expect(usage(() => memberIdCommand(['zz']))).toEqual([
      'bad member ID arg (strconv.ParseUint: parsing "zz": invalid syntax), expecting ID in Hex',
      128,
    ]);
    // The id is checked before the URLs, as etcdctl does.
    expect(usage(() => memberUpdateCommand(['zz'], {}))[0]).toMatch(/^bad member ID arg/);
    expect(usage(() => memberUpdateCommand(['12'], {}))[0]).toBe('member peer urls not provided');
    expect(usage(() => moveLeaderCommand([]))).toEqual([
      'move-leader command needs 1 argument',
      128,
    ]);
    expect(usage(() => moveLeaderCommand(['g']))[0]).toMatch(/^bad member ID arg/);
    expect(
      memberAddCommand(['n4'], { 'peer-urls': 'http://a:1,http://b:2', learner: true }),
    ).toEqual({
      name: 'n4',
      peerUrls: ['http://a:1', 'http://b:2'],
      peerUrlsText: 'http://a:1,http://b:2',
      isLearner: true,
    });
    expect(memberUpdateCommand(['ff'], { 'peer-urls': 'http://a:1' })).toEqual({
      id: 255n,
      peerUrls: ['http://a:1'],
    });
  });

  it('has help for the group and each subcommand', () => {
    expect(usageText('member')).toContain('member promote <memberID>');
    expect(usageText('member', 'add')).toContain('--learner');
    expect(usageText('member', 'add')).toMatch(/^raftkitctl member add <name> --peer-urls/);
    expect(usageText()).toContain('move-leader <memberID>');
    expect(usageText()).toContain('member update <memberID> --peer-urls=<url,...>');
  });
});

describe('quoteGo (Go %q)', () => {
  it('escapes as strconv.Quote does', () => {
    expect(quoteGo('n4')).toBe('"n4"');
    expect(quoteGo('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quoteGo('\t\n\r\x07\x00\x7f')).toBe('"\\t\\n\\r\\a\\x00\\x7f"');
    expect(quoteGo('né 日本 🙂')).toBe('"né 日本 🙂"');
    expect(quoteGo('\u00a0\u200b\u{e0001}')).toBe('"\\u00a0\\u200b\\U000e0001"');
  });
});

describe('membership output (captured from etcdctl 3.4.23)', () => {
  it('member add: the added line, then the environment for the new member', () => {
    const added = { header: header(N1.ID), member: N4, members: LIST.members };
    expect(text(formatMemberAdd(added, 'simple'))).toBe(
      'Member a3c7b16ea01f2db8 added to cluster 3b6b2694877dbcb2',
    );
    expect(text(formatMemberAddEnvironment('n4', 'http://127.0.0.1:42386', N4.ID, LIST))).toBe(
      [
        '',
        'ETCD_NAME="n4"',
        'ETCD_INITIAL_CLUSTER="n3=http://127.0.0.1:42384,n2=http://127.0.0.1:42382,n4=http://127.0.0.1:42386,n1=http://127.0.0.1:42380"',
        'ETCD_INITIAL_ADVERTISE_PEER_URLS="http://127.0.0.1:42386"',
        'ETCD_INITIAL_CLUSTER_STATE="existing"',
      ].join('\n'),
    );
    // Another unstarted member (no name yet) shows as "=url", as in etcdctl.
    const env = formatMemberAddEnvironment('y', 'http://h:1', 9n, {
      header: null,
      members: [{ ...N4, ID: 9n, peerURLs: ['http://h:1'] }, N4],
    });
    expect(env[2]).toBe('ETCD_INITIAL_CLUSTER="y=http://h:1,=http://127.0.0.1:42386"');
  });

  it('pads ids like Go’s %16x (spaces), and move-leader prints them unpadded', () => {
    const response = { header: header(N1.ID), members: [] };
    expect(text(formatMemberRemove(0x1234n, response, 'simple'))).toBe(
      'Member             1234 removed from cluster 3b6b2694877dbcb2',
    );
    expect(text(formatMemberUpdate(N4.ID, response, 'simple'))).toBe(
      'Member a3c7b16ea01f2db8 updated in cluster 3b6b2694877dbcb2',
    );
    expect(text(formatMemberPromote(N4.ID, response, 'simple'))).toBe(
      'Member a3c7b16ea01f2db8 promoted in cluster 3b6b2694877dbcb2',
    );
    expect(text(formatMoveLeader(N1.ID, 0x42n, { header: null }, 'simple'))).toBe(
      'Leadership transferred from eab888e10709deab to 42',
    );
  });

  it('json is the response as etcdctl prints it', () => {
    const learner = {
      ID: 17028602429993655985n,
      name: '',
      peerURLs: ['http://127.0.0.1:42392'],
      clientURLs: [],
      isLearner: true,
    };
    const added = {
      header: header(10936369643111927668n),
      member: learner,
      members: [N3, { ...N2, isLearner: false }, { ...N1, isLearner: false }, learner],
    };
    expect(text(formatMemberAdd(added, 'json'))).toBe(
      '{"header":{"cluster_id":4281558290115968178,"member_id":10936369643111927668,"raft_term":2},"member":{"ID":17028602429993655985,"peerURLs":["http://127.0.0.1:42392"],"isLearner":true},"members":[{"ID":4814917993440902911,"name":"n3","peerURLs":["http://127.0.0.1:42384"],"clientURLs":["http://127.0.0.1:42383"]},{"ID":10936369643111927668,"name":"n2","peerURLs":["http://127.0.0.1:42382"],"clientURLs":["http://127.0.0.1:42381"]},{"ID":16913418900657004203,"name":"n1","peerURLs":["http://127.0.0.1:42380"],"clientURLs":["http://127.0.0.1:42379"]},{"ID":17028602429993655985,"peerURLs":["http://127.0.0.1:42392"],"isLearner":true}]}',
    );
    const removed = { header: header(N2.ID), members: [N3, N2, N1] };
    expect(text(formatMemberRemove(N4.ID, removed, 'json'))).toBe(
      '{"header":{"cluster_id":4281558290115968178,"member_id":10936369643111927668,"raft_term":2},"members":[{"ID":4814917993440902911,"name":"n3","peerURLs":["http://127.0.0.1:42384"],"clientURLs":["http://127.0.0.1:42383"]},{"ID":10936369643111927668,"name":"n2","peerURLs":["http://127.0.0.1:42382"],"clientURLs":["http://127.0.0.1:42381"]},{"ID":16913418900657004203,"name":"n1","peerURLs":["http://127.0.0.1:42380"],"clientURLs":["http://127.0.0.1:42379"]}]}',
    );
    // etcd 3.4 answers MoveLeader without a header.
    expect(text(formatMoveLeader(N1.ID, N2.ID, { header: null }, 'json'))).toBe('{}');
    expect(() => formatMemberPromote(1n, removed, 'table')).toThrow(/not supported/);
  });
});

async function run(argv: string[], client: Partial<ClientLike>) {
  let stdout = '';
  let stderr = '';
  let made = 0;
  const code = await runCli(
    argv,
    {
      stdout: { write: (chunk) => (stdout += Buffer.from(chunk).toString()) },
      stderr: { write: (chunk) => (stderr += Buffer.from(chunk).toString()) },
      stdin: Readable.from([]),
    },
    {
      makeClient: () => {
        made++;
        return { close: () => {}, ...client } as ClientLike;
      },
    },
  );
  return { code, stdout, stderr, made };
}

describe('raftkitctl member and move-leader (fake client)', () => {
  it('member add prints the environment from a member that has applied the add', async () => {
    const calls: string[] = [];
    let lists = 0;
    const result = await run(['member', 'add', 'n4', '--peer-urls=http://127.0.0.1:42386'], {
      memberAdd: async (urls, options) => {
        calls.push(`add ${urls.join(',')} ${JSON.stringify(options)}`);
        return { header: header(N1.ID), member: N4, members: [] };
      },
      // The first list comes from a member that may lag (n2); a quorum read there, then
      // a list from n1 — the member that answered the add — is the one used.
      memberList: async () => {
        calls.push('list');
        lists++;
        return lists === 1 ? { header: header(N2.ID), members: [N3, N2, N1] } : LIST;
      },
      get: async (key) => {
        calls.push(`get ${key}`);
        return { header: header(N1.ID), kvs: [], more: false, count: 0n };
      },
    });
    expect(result.code).toBe(0);
    expect(calls).toEqual([
      'add http://127.0.0.1:42386 {"isLearner":false}',
      'list',
      'get _',
      'list',
    ]);
    expect(result.stdout).toBe(
      [
        'Member a3c7b16ea01f2db8 added to cluster 3b6b2694877dbcb2',
        '',
        'ETCD_NAME="n4"',
        'ETCD_INITIAL_CLUSTER="n3=http://127.0.0.1:42384,n2=http://127.0.0.1:42382,n4=http://127.0.0.1:42386,n1=http://127.0.0.1:42380"',
        'ETCD_INITIAL_ADVERTISE_PEER_URLS="http://127.0.0.1:42386"',
        'ETCD_INITIAL_CLUSTER_STATE="existing"',
        '',
      ].join('\n'),
    );
  });

  it('member add -w json prints only the response', async () => {
    const result = await run(
      ['member', 'add', 'n4', '--peer-urls=http://a:1', '--learner', '-w', 'json'],
      {
        memberAdd: async (_urls, options) => ({
          header: header(N1.ID),
          member: { ...N4, isLearner: options?.isLearner === true },
          members: [],
        }),
      },
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ member: { isLearner: true } });
  });

  it('remove, update, promote and move-leader print etcdctl’s lines', async () => {
    const seen: unknown[] = [];
    const client: Partial<ClientLike> = {
      memberRemove: async (id) => {
        seen.push(['remove', id]);
        return { header: header(N1.ID), members: [] };
      },
      memberUpdate: async (id, urls) => {
        seen.push(['update', id, urls]);
        return { header: header(N1.ID), members: [] };
      },
      memberPromote: async (id) => {
        seen.push(['promote', id]);
        return { header: header(N1.ID), members: [] };
      },
      moveLeader: async (id) => {
        seen.push(['move', id]);
        return { header: null, previousLeader: N1.ID, leaderEndpoint: 'a:1' };
      },
    };
    expect((await run(['member', 'remove', 'A3C7B16EA01F2DB8'], client)).stdout).toBe(
      'Member a3c7b16ea01f2db8 removed from cluster 3b6b2694877dbcb2\n',
    );
    expect(
      (
        await run(
          ['member', 'update', 'a3c7b16ea01f2db8', '--peer-urls=http://a:1,http://b:2'],
          client,
        )
      ).stdout,
    ).toBe('Member a3c7b16ea01f2db8 updated in cluster 3b6b2694877dbcb2\n');
    expect((await run(['member', 'promote', 'a3c7b16ea01f2db8'], client)).stdout).toBe(
      'Member a3c7b16ea01f2db8 promoted in cluster 3b6b2694877dbcb2\n',
    );
    expect((await run(['move-leader', '97c5ca3f3e0d4f74'], client)).stdout).toBe(
      'Leadership transferred from eab888e10709deab to 97c5ca3f3e0d4f74\n',
    );
    expect((await run(['move-leader', '97c5ca3f3e0d4f74', '-w', 'json'], client)).stdout).toBe(
      '{}\n',
    );
    expect(seen).toEqual([
      ['remove', N4.ID],
      ['update', N4.ID, ['http://a:1', 'http://b:2']],
      ['promote', N4.ID],
      ['move', N2.ID],
      ['move', N2.ID],
    ]);
  });

  it('exits as etcdctl does: 128 bad arguments, 4 table, 1 server errors', async () => {
    const never: Partial<ClientLike> = {
      memberAdd: () => Promise.reject(new Error('must not be called')),
      memberRemove: () => Promise.reject(new Error('must not be called')),
      moveLeader: () => Promise.reject(new Error('must not be called')),
    };
    const bad = await run(['member', 'remove', 'zz'], never);
    expect(bad).toMatchObject({
      code: 128,
      stdout: '',
      stderr:
        'Error: bad member ID arg (strconv.ParseUint: parsing "zz": invalid syntax), expecting ID in Hex\n',
    });
    expect((await run(['member', 'add', 'x'], never)).code).toBe(EXIT_BAD_ARGS);
    expect((await run(['move-leader'], never)).code).toBe(EXIT_BAD_ARGS);
    const table = await run(['member', 'add', 'x', '--peer-urls=http://a:1', '-w', 'table'], never);
    expect(table).toMatchObject({
      code: EXIT_BAD_FEATURE,
      stderr: 'Error: table output is not supported for member add (use simple or json)\n',
    });
    expect((await run(['move-leader', '1', '-w', 'table'], never)).code).toBe(EXIT_BAD_FEATURE);
    const notFound = await run(['member', 'remove', '1234'], {
      memberRemove: () =>
        Promise.reject(new KvClientError(status.NOT_FOUND, ETCD_ERRORS.memberNotFound)),
    });
    expect(notFound).toMatchObject({ code: 1, stderr: 'Error: etcdserver: member not found\n' });
    const noLeader = await run(['move-leader', '1'], {
      moveLeader: () =>
        Promise.reject(
          new KvClientError(status.FAILED_PRECONDITION, 'no leader endpoint given at [a:1]', {
            reason: 'noLeaderEndpoint',
          }),
        ),
    });
    expect(noLeader).toMatchObject({
      code: 128,
      stderr: 'Error: no leader endpoint given at [a:1]\n',
    });
    const unreachable = await run(['move-leader', '1'], {
      moveLeader: () =>
        Promise.reject(
          new KvClientError(status.UNAVAILABLE, 'no leader endpoint given at [a:1]', {
            reason: 'noLeaderEndpoint',
          }),
        ),
    });
    expect(unreachable.code).toBe(1);
    const badUrl = await run(['member', 'add', 'x', '--peer-urls=10.0.0.1:2380'], {
      memberAdd: () => {
        throw new TypeError('URL scheme must be http, https, unix, or unixs: 10.0.0.1:2380');
      },
    });
    expect(badUrl.code).toBe(1);
  });

  it('member alone prints the group help; an unknown subcommand is an error', async () => {
    const help = await run(['member'], {});
    expect(help).toMatchObject({ code: 0, made: 0 });
    expect(help.stdout).toContain('member add <name>');
    const unknown = await run(['member', 'frob'], {});
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^Error: unknown command "frob" for "raftkitctl member"/);
    expect((await run(['member', 'add', '--help'], {})).stdout).toContain('--peer-urls');
  });
});
