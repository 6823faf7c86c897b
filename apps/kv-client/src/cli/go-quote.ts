const SIMPLE_ESCAPES: Record<string, number> = {
  a: 7,
  b: 8,
  f: 12,
  n: 10,
  r: 13,
  t: 9,
  v: 11,
  '\\': 92,
  '"': 34,
  "'": 39,
};

/**
 * unquoteGo decodes a double-quoted Go string literal (`"a\x00b\n"`) to bytes, as
 * etcdctl's txn parser does with `%q`. Characters are UTF-8; `\xNN` and octal escapes
 * are raw bytes. It throws a SyntaxError on a malformed literal.
 */
export function unquoteGo(literal: string): Uint8Array {
  if (literal.length < 2 || !literal.startsWith('"') || !literal.endsWith('"')) {
    throw new SyntaxError(`expected a double-quoted string, got ${literal}`);
  }
  const body = literal.slice(1, -1);
  const out: number[] = [];
  const pushText = (text: string): void => {
    out.push(...Buffer.from(text, 'utf8'));
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string;
    if (ch === '"') throw new SyntaxError(`unescaped quote in ${literal}`);
    if (ch !== '\\') {
      const code = body.codePointAt(i) as number;
      const char = String.fromCodePoint(code);
      pushText(char);
      i += char.length - 1;
      continue;
    }
    const next = body[++i];
    if (next === undefined) throw new SyntaxError(`dangling backslash in ${literal}`);
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) {
      out.push(simple);
    } else if (next === 'x') {
      const hex = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new SyntaxError(`bad \\x escape in ${literal}`);
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (next === 'u' || next === 'U') {
      const length = next === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + length);
      if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(hex)) {
        throw new SyntaxError(`bad \\${next} escape in ${literal}`);
      }
      pushText(String.fromCodePoint(Number.parseInt(hex, 16)));
      i += length;
    } else if (/[0-7]/.test(next)) {
      const octal = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(octal)) throw new SyntaxError(`bad octal escape in ${literal}`);
      out.push(Number.parseInt(octal, 8) & 0xff);
      i += 2;
    } else {
      throw new SyntaxError(`unknown escape \\${next} in ${literal}`);
    }
  }
  return Uint8Array.from(out);
}

/**
 * splitArgs splits one txn operation line into arguments like etcdctl's `argify`:
 * whitespace separates, a double-quoted Go string is one argument (decoded).
 */
export function splitArgs(line: string): string[] {
  const args: string[] = [];
  for (const match of line.matchAll(/"(?:[^"\\]|\\.)*"|\S+/g)) {
    const token = match[0];
    args.push(token.startsWith('"') ? Buffer.from(unquoteGo(token)).toString('utf8') : token);
  }
  return args;
}

const QUOTE_ESCAPES: Record<number, string> = {
  7: '\\a',
  8: '\\b',
  9: '\\t',
  10: '\\n',
  11: '\\v',
  12: '\\f',
  13: '\\r',
  34: '\\"',
  92: '\\\\',
};

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/**
 * quoteGo renders a string as Go's `%q` (strconv.Quote) does: double quotes, `\"` and
 * `\\`, the C escapes (`\n`, `\t`, …), `\xNN` for other control bytes, `\uNNNN` /
 * `\UNNNNNNNN` for other unprintable characters (a lone surrogate becomes `\ufffd`, as
 * Go sees invalid UTF-8); printable Unicode as it is.
 */
export function quoteGo(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    const simple = QUOTE_ESCAPES[code];
    if (simple !== undefined) {
      out += simple;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out += '\\ufffd';
    } else if (PRINTABLE.test(char)) {
      out += char;
    } else if (code < 0x80) {
      out += `\\x${code.toString(16).padStart(2, '0')}`;
    } else if (code < 0x10000) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else {
      out += `\\U${code.toString(16).padStart(8, '0')}`;
    }
  }
  return `${out}"`;
}
