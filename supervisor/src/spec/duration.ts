/**
 * Durations as people write them in tree files: "500ms", "2s", "1.5s", "1m", "1h", "1m30s".
 * A bare number is milliseconds (so `timeout: 0` and values built in code need no unit).
 */
import { EdgevisorError, codes } from '../errors.ts';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** One or more `<number><unit>` parts, largest unit first by convention (not enforced). */
export const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/**
 * The longest duration anything accepts: Node's timers hold at most 2^31-1 ms (about 24.8 days);
 * past that setTimeout fires after 1 ms, so a longer value would mean "at once", not "rarely".
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** What every duration error says is accepted (kept in one place so messages agree). */
export const DURATION_EXPECTED = 'expected a duration like "500ms" or "2s"';

/** Describes a rejected value the way messages quote it: strings in quotes, others as JSON. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  // Long inputs are cut: an error message must stay one readable line.
  if (typeof v === 'string') return v.length > 60 ? `${JSON.stringify(v.slice(0, 40))}... (${v.length} characters)` : JSON.stringify(v);
  if (typeof v === 'number' && String(v).length > 30) return `${String(v).slice(0, 20)}... (a ${String(v).length}-character number)`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'a mapping';
  return String(v);
}

/**
 * Parses a duration to whole milliseconds (rounded). Throws `SPEC_INVALID` on anything else:
 * negative or non-finite numbers, unknown units, unit-less strings other than "0".
 */
export function parseDuration(s: string | number): number {
  let ms: number | undefined;
  if (typeof s === 'number') {
    if (Number.isFinite(s) && s >= 0) ms = Math.round(s);
  } else if (typeof s === 'string' && s.length <= 64) {
    const t = s.trim();
    // "0" needs no unit: zero is zero in every unit, and `startup_grace: "0"` is a common spelling.
    if (t === '0') return 0;
    if (DURATION_RE.test(t)) {
      ms = 0;
      for (const m of t.matchAll(PART_RE)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
      ms = Math.round(ms);
    }
  }
  if (ms !== undefined && Number.isFinite(ms) && ms <= MAX_DURATION_MS) return ms;
  const msg =
    ms !== undefined
      ? `expected a duration of at most ${formatDuration(MAX_DURATION_MS)} (the longest timer Node can hold), got ${describeValue(s)}`
      : `${DURATION_EXPECTED}, got ${describeValue(s)}`;
  throw new EdgevisorError(codes.SPEC_INVALID, msg, { details: [msg] });
}

/** Formats milliseconds back into the shortest exact duration string ("1m30s", "500ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}
