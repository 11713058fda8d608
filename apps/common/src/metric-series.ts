/**
 * Dropping every series of one label value (a camera that left) from prom-client metrics, whatever
 * their other labels: prom-client's `remove()` takes a whole label set, so the sets are read first.
 */
import type { Metric } from 'prom-client';

/** Removes from each metric every series whose `label` is `value`. */
export async function removeSeriesOf(metrics: readonly Metric[], label: string, value: string): Promise<void> {
  for (const metric of metrics) {
    for (const v of (await metric.get()).values) {
      if (v.labels[label] === value) (metric as Metric & { remove(labels: Record<string, string | number>): void }).remove(v.labels as Record<string, string | number>);
    }
  }
}
