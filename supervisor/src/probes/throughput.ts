/**
 * `throughput` probe: scrape a Prometheus text endpoint, sum the counter's samples that match the
 * label selector, and require its rate over `window` to be at least `min_rate` per second. This is
 * what catches a camera or an inference worker that stopped producing while its process and its
 * health endpoint look fine.
 *
 * Samples are kept in `target.memory` (reset by the runtime when the child restarts). The rate is
 * measured from the newest sample at least `window` old, so it always spans a full window (up to
 * one probe interval more). Until such a sample exists the probe passes without a value: a fresh
 * child has not had the chance to produce yet. A counter that went down was reset (the exporter
 * restarted): the window starts again from that sample. With `absent: pass` a page without the
 * series passes (without a value): an app that has nothing to count yet is not stalled.
 */
import type { ProbeCheck } from '../spec/types.ts';
import type { ProbeFn, ProbeMemory } from './types.ts';
import { ProbeFailure, formatMs, formatNumber, guardProbe } from './common.ts';
import { MissingSeries, scrapeSeries } from './scrape.ts';

export type ThroughputCheck = Extract<ProbeCheck, { kind: 'throughput' }>;

/** One reading of the counter: unix ms (from target.now()) and the summed value. */
export interface CounterReading {
  t: number;
  v: number;
}

/** The shape this probe keeps in `target.memory`. */
export interface ThroughputMemory {
  readings?: CounterReading[];
}

/** A hard bound on kept readings whatever the window and interval (memory stays small). */
const MAX_READINGS = 1000;

/** What `recordReading` concluded. `rate` is undefined while the window is not full yet. */
export interface RateVerdict {
  rate?: number;
  spanMs?: number;
  reset: boolean;
}

/**
 * Adds a reading and computes the rate over the window. Pure apart from mutating `memory`, so the
 * window logic can be tested with a fake clock.
 */
export function recordReading(memory: ProbeMemory, reading: CounterReading, windowMs: number): RateVerdict {
  const mem = memory as ThroughputMemory;
  const readings = (mem.readings ??= []);
  const last = readings[readings.length - 1];
  // A reading older than the last (clock stepped back) cannot give a rate: start over too.
  if (last && (reading.v < last.v || reading.t < last.t)) {
    mem.readings = [reading];
    return { reset: true };
  }
  readings.push(reading);
  // The base is the newest reading at least a window old; everything before it is not needed.
  let base = -1;
  for (let i = readings.length - 1; i >= 0; i--) {
    if (reading.t - readings[i]!.t >= windowMs) {
      base = i;
      break;
    }
  }
  if (base > 0) readings.splice(0, base);
  if (readings.length > MAX_READINGS) readings.splice(0, readings.length - MAX_READINGS);
  if (base < 0) return { reset: false };
  const first = readings[0]!;
  const spanMs = reading.t - first.t;
  return { rate: ((reading.v - first.v) * 1000) / spanMs, spanMs, reset: false };
}

export const throughputProbe: ProbeFn<ThroughputCheck> = (check, target, timeoutMs, signal) =>
  guardProbe(timeoutMs, signal, async (ctx) => {
    const scraped = await scrapeSeries(check, target, ctx.signal).catch((err: unknown) => {
      if (!(err instanceof MissingSeries)) throw err;
      // The series is gone: a later reappearance starts a new window rather than a bogus rate.
      (target.memory as ThroughputMemory).readings = [];
      // `absent: pass`: nothing to count (a camera controller with no camera) is no stall.
      if (check.passIfAbsent) return undefined;
      throw err;
    });
    if (!scraped) return {};
    const { samples, selector } = scraped;
    const sum = samples.reduce((acc, s) => acc + s.value, 0);
    if (!Number.isFinite(sum)) throw new ProbeFailure(`metric ${selector} is ${sum}, expected a finite counter`);
    const verdict = recordReading(target.memory, { t: target.now(), v: sum }, check.windowMs);
    if (verdict.rate === undefined) return {};
    if (verdict.rate < check.minRate) {
      throw new ProbeFailure(`${selector} rate ${verdict.rate.toFixed(2)}/s over ${formatMs(verdict.spanMs!)} < min ${formatNumber(check.minRate)}/s`, verdict.rate);
    }
    return { value: verdict.rate };
  });
