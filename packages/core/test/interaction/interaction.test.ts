import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InteractionEnv } from './interaction-env.js';
import type { Script } from './script.js';
import { parseScript, renderScript } from './script.js';

// Runs every test/testdata/*.txt script (format: interaction-env.ts). With REWRITE=1 the
// files are rewritten with the actual output instead of compared; review the diff.
const testdata = fileURLToPath(new URL('../testdata/', import.meta.url));
const rewrite = process.env.REWRITE === '1';

function runScript(script: Script, name: string): string[] {
  const env = new InteractionEnv();
  return script.blocks.map((block) => {
    try {
      return env.run(block.command);
    } catch (error) {
      throw new Error(`${name}:${block.line}: '${block.command}' failed: ${String(error)}`, {
        cause: error,
      });
    }
  });
}

const scripts = readdirSync(testdata)
  .filter((file) => file.endsWith('.txt'))
  .sort();

describe('interaction scripts (test/testdata)', () => {
  it('has the scripts the core is proven by', () => {
    const required = ['campaign', 'prevote', 'checkquorum', 'replication', 'backtracking'];
    required.push('forwarding', 'read-index', 'transfer-leader', 'figure8', 'persist-before-send');
    for (const name of required) expect(scripts).toContain(`${name}.txt`);
  });

  for (const file of scripts) {
    it(file, () => {
      const path = testdata + file;
      const text = readFileSync(path, 'utf8');
      const script = parseScript(text, file);
      const actual = runScript(script, file);
      const rendered = renderScript(script, actual);
      if (rewrite) {
        if (rendered !== text) writeFileSync(path, rendered);
        return;
      }
      // Both sides rendered alike, so a failure shows as a diff of the script file.
      expect(rendered).toBe(
        renderScript(
          script,
          script.blocks.map((block) => block.expected),
        ),
      );
    });
  }
});

describe('interaction harness', () => {
  const sample = [
    '# a comment',
    'add-nodes 1',
    '----',
    'ok',
    '',
    'raft-state',
    '----',
    '1: follower Term:9 Lead:0',
    '',
  ].join('\n');

  it('round-trips a script through parse and render', () => {
    const script = parseScript(sample);
    expect(script.blocks.map((block) => block.command)).toEqual(['add-nodes 1', 'raft-state']);
    expect(
      renderScript(
        script,
        script.blocks.map((block) => block.expected),
      ),
    ).toBe(sample);
  });

  it('detects an output that differs from the expectation', () => {
    const script = parseScript(sample);
    const actual = runScript(script, 'sample');
    expect(actual[1]).toBe('1: follower Term:0 Lead:0');
    expect(actual[1]).not.toBe(script.blocks[1]!.expected);
  });

  it('rejects a command without its separator, and unknown commands', () => {
    expect(() => parseScript('campaign 1\nok\n')).toThrow(/expected '----'/);
    expect(() => new InteractionEnv().run('frobnicate 1')).toThrow(/unknown command/);
  });
});
