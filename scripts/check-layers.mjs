#!/usr/bin/env node
// The layer rule of DESIGN.md, enforced: every import in every workspace package is
// checked against the package graph, the exports maps and core's purity.
//
//   node scripts/check-layers.mjs [--root DIR]
//
// Exits 1 and prints one line per violation.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const args = process.argv.slice(2);
const rootIndex = args.indexOf('--root');
const root = resolve(rootIndex >= 0 ? (args[rootIndex + 1] ?? '.') : '.');

// Which workspace package may import which (importer -> allowed imports).
// `core` imports nothing at all: no node:*, no npm package, no other raftkit package.
const allowedGraph = {
  '@raftkit/core': [],
  '@raftkit/storage': ['@raftkit/core'],
  '@raftkit/rpc': ['@raftkit/core', '@raftkit/timer'],
  '@raftkit/timer': ['@raftkit/core'],
  '@raftkit/config': ['@raftkit/core'],
  '@raftkit/kv-server': [
    '@raftkit/core',
    '@raftkit/storage',
    '@raftkit/rpc',
    '@raftkit/timer',
    '@raftkit/config',
  ],
  '@raftkit/kv-client': ['@raftkit/core', '@raftkit/rpc', '@raftkit/timer', '@raftkit/config'],
  '@raftkit/chaos': ['@raftkit/rpc'],
};

const violations = [];
const packages = new Map();
for (const group of ['packages', 'apps', 'tests']) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) {
    const pkgDir = join(dir, name);
    const manifestPath = join(pkgDir, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    packages.set(manifest.name, { dir: pkgDir, manifest });
  }
}

function sourceFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (entry === 'node_modules' || entry === 'fixtures') continue;
      out.push(...sourceFiles(path));
    } else if (/\.(ts|mts|js|mjs)$/.test(entry) && !entry.endsWith('.d.ts')) {
      out.push(path);
    }
  }
  return out;
}

// Static imports, re-exports, dynamic imports and require calls.
const importPattern =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\sfrom\s+)?['"]([^'"]+)['"]|(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;

function importsOf(file) {
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const found = [];
  for (const match of text.matchAll(importPattern)) {
    found.push(match[1] ?? match[2]);
  }
  return found;
}

function exportedSubpaths(manifest) {
  const exportsMap = manifest.exports;
  if (!exportsMap || typeof exportsMap === 'string') return new Set(['.']);
  return new Set(Object.keys(exportsMap).filter((key) => exportsMap[key] !== null));
}

for (const [name, { dir, manifest }] of packages) {
  const isCore = name === '@raftkit/core';
  const allowed = allowedGraph[name];
  const declared = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.devDependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  for (const area of ['src', 'test', 'bench', 'sim']) {
    for (const file of sourceFiles(join(dir, area))) {
      const where = relative(root, file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (!target.startsWith(dir + sep)) {
            violations.push(
              `${where}: relative import '${spec}' leaves its package (import the package by name)`,
            );
          }
          if (isCore && area === 'src' && !target.startsWith(join(dir, 'src') + sep)) {
            violations.push(`${where}: core source imports '${spec}' from outside src/`);
          }
          continue;
        }
        if (isCore && area === 'src') {
          violations.push(
            `${where}: @raftkit/core must stay pure (no I/O, no dependencies) but imports '${spec}'`,
          );
          continue;
        }
        const scoped = spec.match(/^(@raftkit\/[^/]+)(\/.*)?$/);
        if (!scoped) continue;
        const [, target, subpath] = scoped;
        if (target === name && area !== 'src') continue; // a package's tests may self-reference
        const targetPackage = packages.get(target);
        if (!targetPackage) {
          violations.push(`${where}: imports unknown workspace package '${target}'`);
          continue;
        }
        const key = subpath ? `.${subpath}` : '.';
        if (!exportedSubpaths(targetPackage.manifest).has(key)) {
          violations.push(
            `${where}: '${spec}' reaches into ${target}'s internals (not in its exports map)`,
          );
        }
        if (area === 'src' && allowed && !allowed.includes(target)) {
          violations.push(`${where}: ${name} may not import ${target} (see DESIGN.md layer graph)`);
        }
        if (!declared.has(target)) {
          violations.push(
            `${where}: imports ${target} but ${name}'s package.json does not depend on it`,
          );
        }
      }
    }
  }
  // tsconfig references mirror the workspace dependencies.
  const tsconfigPath = join(dir, 'tsconfig.json');
  if (existsSync(tsconfigPath)) {
    const tsconfig = JSON.parse(readFileSync(tsconfigPath, 'utf8'));
    const referenced = new Set((tsconfig.references ?? []).map((ref) => resolve(dir, ref.path)));
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      const depPackage = packages.get(dep);
      if (depPackage && !referenced.has(depPackage.dir)) {
        violations.push(
          `${relative(root, tsconfigPath)}: depends on ${dep} but has no tsconfig reference to it`,
        );
      }
    }
  }
}

if (violations.length > 0) {
  for (const line of violations) console.error(`layer rule: ${line}`);
  console.error(`layer rule: ${violations.length} violation(s)`);
  process.exit(1);
}
console.log(`layer rule: ${packages.size} packages checked, no violations`);
