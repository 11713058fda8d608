/**
 * `staleness` probe: a gauge holding a unix timestamp in SECONDS (Prometheus convention, e.g.
 * `last_frame_timestamp_seconds`) must be younger than `max_age`, compared to `target.now()`.
 * When the selector matches several series (several cameras), the oldest decides: every one of
 * them must be fresh. With `absent: pass` a page without the series passes (without a value).
 */
import type { ProbeCheck } from '../spec/types.ts';
import type { ProbeFn } from './types.ts';
import { ProbeFailure, formatMs, guardProbe } from './common.ts';
import { MissingSeries, scrapeSeries } from './scrape.ts';

export type StalenessCheck = Extract<ProbeCheck, { kind: 'staleness' }>;

export const stalenessProbe: ProbeFn<StalenessCheck> = (check, target, timeoutMs, signal) =>
  guardProbe(timeoutMs, signal, async (ctx) => {
    const scraped = await scrapeSeries(check, target, ctx.signal).catch((err: unknown) => {
      // `absent: pass`: no series at all (inference with no camera to run) is nothing stale.
      if (err instanceof MissingSeries && check.passIfAbsent) return undefined;
      throw err;
    });
    if (!scraped) return {};
    const { samples, selector } = scraped;
    const oldest = Math.min(...samples.map((s) => s.value));
    if (Number.isNaN(oldest)) throw new ProbeFailure(`${selector} is NaN, expected a unix timestamp in seconds`);
    // 0 is what an exporter shows before its first event: say so instead of "56 years old".
    if (oldest <= 0) throw new ProbeFailure(`${selector} is ${oldest} (never set), expected a unix timestamp in seconds`);
    // A value in ms would look ~50,000 years in the future: a unit mistake, not freshness.
    if (oldest > 1e11) throw new ProbeFailure(`${selector} is ${oldest}, expected a unix timestamp in seconds (is it in ms?)`);
    const ageMs = target.now() - oldest * 1000;
    if (ageMs > check.maxAgeMs) throw new ProbeFailure(`${selector} is ${formatMs(ageMs)} old > max ${formatMs(check.maxAgeMs)}`, ageMs);
    // Slightly in the future (clocks a few ms apart) counts as fresh.
    return { value: Math.max(0, ageMs) };
  });
