#!/usr/bin/env node
// Aggregates a V8 .cpuprofile (node --cpu-prof) by self time, without a flame-graph tool:
//
//   node apps/kv-server/bench/profile-summary.mjs FILE.cpuprofile [--top 30] [--ops N]
//        [--from-us T --to-us T]
//
// Prints the top functions by self time (name, file:line), self time grouped by file
// and by package (node internals, grpc-js, protobufjs, raftkit packages, …), and the
// GC / idle / program shares. With --ops, times are also given per op (µs/op). With a
// window (monotonic µs, the profile's own clock), only samples inside it count.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

function shortUrl(url) {
  if (!url) return '';
  const clean = url.replace(/^file:\/\//, '');
  const nm = clean.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = clean.slice(nm + 'node_modules/'.length);
    return rest.replace(/^\.pnpm\/[^/]+\/node_modules\//, '');
  }
  const i = clean.indexOf('/apps/');
  const j = clean.indexOf('/packages/');
  const k = i >= 0 ? i : j;
  return k >= 0 ? clean.slice(k + 1) : clean;
}

function packageOf(url) {
  const s = shortUrl(url);
  if (s === '') return '(native/vm)';
  if (s.startsWith('node:')) return 'node internals';
  if (s.startsWith('@')) return s.split('/').slice(0, 2).join('/');
  if (s.startsWith('apps/') || s.startsWith('packages/')) {
    return s.split('/').slice(0, 2).join('/');
  }
  return s.split('/')[0];
}

/** summarizeProfile returns a text report of one profile. */
export function summarizeProfile(file, { window, ops, top = 25 } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id -> µs
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // Each sample stands for the interval up to the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (window !== undefined && (t < window.fromUs || t > window.toUs)) continue;
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  }
  const byFunction = new Map();
  const byFile = new Map();
  const byPackage = new Map();
  let idle = 0;
  let gc = 0;
  let program = 0;
  for (const [id, us] of self) {
    const node = nodes.get(id);
    const cf = node.callFrame;
    const name = cf.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    if (name === '(garbage collector)') gc += us;
    if (name === '(program)') program += us;
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const f = cf.url ? shortUrl(cf.url) : name;
    byFile.set(f, (byFile.get(f) ?? 0) + us);
    const p = cf.url ? packageOf(cf.url) : name;
    byPackage.set(p, (byPackage.get(p) ?? 0) + us);
  }
  const busy = total - idle;
  const fmt = (us) => {
    const ms = (us / 1000).toFixed(1).padStart(8);
    const pct = ((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5);
    const per = ops ? `${(us / ops).toFixed(1).padStart(7)} µs/op` : '';
    return `${ms} ms ${pct}% ${per}`;
  };
  const lines = [];
  lines.push(
    `   main thread: ${(total / 1e6).toFixed(2)} s sampled, busy ${(busy / 1e6).toFixed(2)} s (${((100 * busy) / Math.max(1, total)).toFixed(0)}%)` +
      (ops ? `, ${(busy / ops).toFixed(0)} µs/op on the main thread` : '') +
      `; GC ${fmt(gc).trim()}; (program) ${fmt(program).trim()}`,
  );
  const section = (title, map, n) => {
    lines.push(`   -- ${title}`);
    for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      lines.push(`   ${fmt(us)}  ${k}`);
    }
  };
  section('by package', byPackage, 15);
  section('by file', byFile, 20);
  section('by function (self)', byFunction, top);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '30' },
      ops: { type: 'string' },
      'from-us': { type: 'string' },
      'to-us': { type: 'string' },
    },
  });
  for (const file of positionals) {
    console.log(file);
    console.log(
      summarizeProfile(file, {
        top: Number(values.top),
        ...(values.ops ? { ops: Number(values.ops) } : {}),
        ...(values['from-us'] && values['to-us']
          ? { window: { fromUs: Number(values['from-us']), toUs: Number(values['to-us']) } }
          : {}),
      }),
    );
  }
}
