// Reading and writing the data-driven script files of test/testdata (format documented at
// the top of interaction-env.ts). Parsing keeps every comment and blank line so that a
// rewrite (REWRITE=1) changes only the expected outputs.

/** ScriptBlock is one command of a script with the lines before it and its expected output. */
export interface ScriptBlock {
  /** Comment and blank lines between the previous block and this command, verbatim. */
  readonly preamble: readonly string[];
  /** The command line, e.g. `propose 1 foo`. */
  readonly command: string;
  /** 1-based line number of the command, for error messages. */
  readonly line: number;
  /** The expected output: the lines under `----`, up to the next blank line, joined by `\n`. */
  readonly expected: string;
}

/** Script is a parsed script file. */
export interface Script {
  readonly blocks: readonly ScriptBlock[];
  /** Comment and blank lines after the last block. */
  readonly trailer: readonly string[];
}

const SEPARATOR = '----';

function isTrivia(line: string): boolean {
  return line.trim() === '' || line.startsWith('#');
}

/** parseScript splits a script into blocks; throws naming the line when `----` is missing. */
export function parseScript(text: string, name = 'script'): Script {
  const lines = text.split('\n');
  const blocks: ScriptBlock[] = [];
  let pending: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (isTrivia(line)) {
      pending.push(line);
      i++;
      continue;
    }
    const commandLine = i + 1;
    i++;
    if (lines[i] !== SEPARATOR) {
      throw new Error(`${name}:${commandLine}: expected '${SEPARATOR}' after '${line}'`);
    }
    i++;
    const output: string[] = [];
    while (i < lines.length && lines[i] !== '') output.push(lines[i++]!);
    i++; // the blank line that ends the block
    blocks.push({
      preamble: pending,
      command: line,
      line: commandLine,
      expected: output.join('\n'),
    });
    pending = [];
  }
  return { blocks, trailer: pending };
}

/**
 * renderScript writes `script` back with `outputs[i]` under block i. Rendering the parsed
 * expectations and the actual outputs the same way makes a failure a readable file diff.
 */
export function renderScript(script: Script, outputs: readonly string[]): string {
  const lines: string[] = [];
  script.blocks.forEach((block, index) => {
    lines.push(...block.preamble, block.command, SEPARATOR, outputs[index] ?? '', '');
  });
  lines.push(...script.trailer);
  return `${lines.join('\n').trimEnd()}\n`;
}
