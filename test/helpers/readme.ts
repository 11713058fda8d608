/**
 * Commands and outputs out of a README's fenced code blocks, so a test runs what the page says
 * and fails when the two drift: `sh` blocks hold commands (one a line, a trailing `  # comment`
 * dropped), `text` blocks what the command before them prints.
 */

interface Block {
  lang: string;
  body: string;
  /** Offset of the block in the file. */
  at: number;
}

function blocks(md: string): Block[] {
  return [...md.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]!, at: m.index! }));
}

/** Every command line of the `sh` blocks, in order. */
export function readmeCommands(md: string): string[] {
  return blocks(md)
    .filter((b) => b.lang === 'sh')
    .flatMap((b) => b.body.split('\n'))
    .map((l) => l.replace(/\s{2,}#.*$/, '').trim())
    .filter(Boolean);
}

/** The one command line matching `re`; throws when none or several do (the README changed). */
export function readmeCommand(md: string, re: RegExp): string {
  const found = readmeCommands(md).filter((l) => re.test(l));
  if (found.length !== 1) throw new Error(`README: expected one command matching ${re}, found ${found.length}: ${found.join(' | ')}`);
  return found[0]!;
}

/** The body of the first `text` block after the first occurrence of `marker` (trimmed). */
export function readmeOutputAfter(md: string, marker: string): string {
  const from = md.indexOf(marker);
  if (from < 0) throw new Error(`README: "${marker}" not found`);
  const block = blocks(md).find((b) => b.lang === 'text' && b.at > from);
  if (!block) throw new Error(`README: no text block after "${marker}"`);
  return block.body.trim();
}
