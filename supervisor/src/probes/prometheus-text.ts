/**
 * A small parser of the Prometheus text exposition format (version 0.0.4), enough for the
 * throughput and staleness probes: comments, `# HELP` / `# TYPE`, labels with escaped quotes,
 * `+Inf` / `-Inf` / `NaN`, optional timestamps, CRLF line ends, OpenMetrics' `# EOF`.
 *
 * It is lenient on purpose: a malformed line is skipped and reported in `errors` (with its line
 * number) instead of failing the whole scrape, so one bad exporter line does not hide the metric a
 * probe is looking for. The probe mentions those errors when its metric is then missing.
 */

/** One sample line: `name{labels} value [timestamp]`. */
export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** The value; may be Infinity, -Infinity or NaN. */
  value: number;
  /** The optional sample timestamp, in unix ms, as written. */
  timestampMs?: number;
}

/** Metric type from a `# TYPE` line. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped' | 'unknown' | 'info' | 'stateset' | 'gaugehistogram';

export interface ParseError {
  /** 1-based line number in the scraped text. */
  line: number;
  message: string;
}

export interface ParsedMetrics {
  samples: Sample[];
  /** Metric family name -> type, from `# TYPE` lines. */
  types: Map<string, MetricType>;
  /** Metric family name -> docstring (unescaped), from `# HELP` lines. */
  help: Map<string, string>;
  /** Lines that could not be parsed (skipped). */
  errors: ParseError[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped', 'unknown', 'info', 'stateset', 'gaugehistogram']);

/** Parses a float the way Prometheus does (Go's ParseFloat): also `+Inf`, `-Inf`, `NaN`, any case. */
export function parseFloatStrict(token: string): number | undefined {
  const lower = token.toLowerCase();
  if (/^[+]?inf(inity)?$/.test(lower)) return Infinity;
  if (/^-inf(inity)?$/.test(lower)) return -Infinity;
  if (lower === 'nan') return NaN;
  return FLOAT.test(token) ? Number(token) : undefined;
}

/** Parses a whole exposition. Never throws. */
export function parsePrometheusText(text: string): ParsedMetrics {
  const out: ParsedMetrics = { samples: [], types: new Map(), help: new Map(), errors: [] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      parseComment(trimmed, out);
      continue;
    }
    const parsed = parseSampleLine(trimmed);
    if (typeof parsed === 'string') out.errors.push({ line: i + 1, message: parsed });
    else out.samples.push(parsed);
  }
  return out;
}

function parseComment(line: string, out: ParsedMetrics): void {
  // `# HELP name doc` and `# TYPE name type`; any other comment is ignored, as in Prometheus.
  const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
  if (!m) return;
  const [, keyword, name, rest = ''] = m;
  if (keyword === 'TYPE') {
    const type = rest.trim().toLowerCase();
    if (TYPES.has(type)) out.types.set(name!, type as MetricType);
  } else {
    out.help.set(name!, rest.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\')));
  }
}

/** Returns the sample, or a message saying what is wrong with the line. */
function parseSampleLine(line: string): Sample | string {
  const nameMatch = METRIC_NAME.exec(line);
  if (!nameMatch) return `expected a metric name, got "${line.slice(0, 40)}"`;
  const name = nameMatch[0];
  let pos = skipBlanks(line, name.length);
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    const end = parseLabels(line, pos + 1, labels);
    if (typeof end === 'string') return `${name}: ${end}`;
    pos = skipBlanks(line, end);
  }
  const rest = line.slice(pos).split(/[ \t]+/).filter((t) => t !== '');
  if (rest.length === 0) return `${name}: missing value`;
  if (rest.length > 2) return `${name}: unexpected text after the timestamp: "${rest.slice(2).join(' ')}"`;
  const value = parseFloatStrict(rest[0]!);
  if (value === undefined) return `${name}: value "${rest[0]}" is not a number`;
  const sample: Sample = { name, labels, value };
  if (rest.length === 2) {
    if (!/^-?\d+$/.test(rest[1]!)) return `${name}: timestamp "${rest[1]}" is not an integer of milliseconds`;
    sample.timestampMs = Number(rest[1]);
  }
  return sample;
}

/** Parses `a="x",b="y"}` starting after the `{`; returns the index after `}` or an error. */
function parseLabels(line: string, start: number, into: Record<string, string>): number | string {
  let pos = start;
  for (;;) {
    pos = skipBlanks(line, pos);
    if (line[pos] === '}') return pos + 1;
    const nameMatch = LABEL_NAME.exec(line.slice(pos));
    if (!nameMatch) return `bad label name at column ${pos + 1}`;
    const labelName = nameMatch[0];
    pos = skipBlanks(line, pos + labelName.length);
    if (line[pos] !== '=') return `expected "=" after label ${labelName}`;
    pos = skipBlanks(line, pos + 1);
    if (line[pos] !== '"') return `expected a quoted value for label ${labelName}`;
    pos++;
    let value = '';
    for (;;) {
      if (pos >= line.length) return `unterminated value of label ${labelName}`;
      const c = line[pos]!;
      if (c === '"') break;
      if (c === '\\' && pos + 1 < line.length) {
        const next = line[pos + 1]!;
        // The format defines only these three escapes; anything else is kept as written.
        value += next === 'n' ? '\n' : next === '"' || next === '\\' ? next : c + next;
        pos += 2;
        continue;
      }
      value += c;
      pos++;
    }
    if (Object.hasOwn(into, labelName)) return `label ${labelName} given twice`;
    into[labelName] = value;
    pos = skipBlanks(line, pos + 1);
    if (line[pos] === ',') {
      pos++;
      continue;
    }
    if (line[pos] === '}') return pos + 1;
    return `expected "," or "}" after label ${labelName}`;
  }
}

function skipBlanks(line: string, pos: number): number {
  while (line[pos] === ' ' || line[pos] === '\t') pos++;
  return pos;
}

/**
 * Samples of `metric` (exact name) whose labels include every pair of `labels` (other labels may
 * be present: `{camera="a"}` matches `frames_total{camera="a",stream="main"}`).
 */
export function findSamples(textOrParsed: string | ParsedMetrics, metric: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
  const parsed = typeof textOrParsed === 'string' ? parsePrometheusText(textOrParsed) : textOrParsed;
  const wanted = Object.entries(labels);
  return parsed.samples.filter((s) => s.name === metric && wanted.every(([k, v]) => s.labels[k] === v));
}

/** `frames_total{camera="a"}`: how a selector is shown in probe errors. */
export function formatSelector(metric: string, labels: Readonly<Record<string, string>> = {}): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return pairs.length ? `${metric}{${pairs.join(',')}}` : metric;
}
