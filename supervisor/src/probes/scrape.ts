/**
 * What the metric probes (throughput, staleness) share: scrape a Prometheus text endpoint over the
 * probe's kept connection and pick the samples of one series.
 */
import type { ProbeTarget } from './types.ts';
import { ProbeFailure } from './common.ts';
import { scrapeText, type ConnectionSlot } from './http-get.ts';
import { findSamples, formatSelector, parsePrometheusText } from './prometheus-text.ts';

/** The series is not on the page (never exported, renamed, or the exporter restarted empty). */
export class MissingSeries extends ProbeFailure {}

/** Samples of `metric{labels}` at `url`; throws MissingSeries naming the URL and the first bad line. */
export async function scrapeSeries(
  check: { url: string; metric: string; labels?: Readonly<Record<string, string>> },
  target: ProbeTarget,
  signal: AbortSignal,
): Promise<{ samples: ReturnType<typeof findSamples>; selector: string }> {
  const text = await scrapeText(check.url, signal, target.memory as ConnectionSlot);
  const parsed = parsePrometheusText(text);
  const samples = findSamples(parsed, check.metric, check.labels);
  const selector = formatSelector(check.metric, check.labels);
  if (samples.length === 0) {
    const bad = parsed.errors.length ? ` (${parsed.errors.length} unparsable line(s), first: line ${parsed.errors[0]!.line}: ${parsed.errors[0]!.message})` : '';
    throw new MissingSeries(`metric ${selector} not found at ${check.url}${bad}`);
  }
  return { samples, selector };
}
