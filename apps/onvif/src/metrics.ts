import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The service's metrics. Labels carry camera ids and operation names only, never credentials. */
export interface OnvifMetrics {
  discoveryRuns: Counter<'trigger'>;
  devicesFound: Gauge;
  requestSeconds: Histogram<'operation'>;
  requestErrors: Counter<'operation' | 'code'>;
  drift: Gauge<'camera'>;
}

export function createOnvifMetrics(registry: Registry, counts: () => { known: number; reachable: number }): OnvifMetrics {
  new Gauge({ name: 'onvif_cameras_known', help: 'Cameras this service knows (discovered or added)', registers: [registry], collect() { this.set(counts().known); } });
  new Gauge({ name: 'onvif_cameras_reachable', help: 'Cameras that answered their last refresh', registers: [registry], collect() { this.set(counts().reachable); } });
  return {
    discoveryRuns: new Counter({ name: 'onvif_discovery_runs_total', help: 'WS-Discovery runs, by trigger (schedule, api, start)', labelNames: ['trigger'], registers: [registry] }),
    devicesFound: new Gauge({ name: 'onvif_discovery_devices_found', help: 'Devices found by the last discovery run (de-duplicated)', registers: [registry] }),
    requestSeconds: new Histogram({ name: 'onvif_request_duration_seconds', help: 'ONVIF SOAP request latency by operation', labelNames: ['operation'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    requestErrors: new Counter({ name: 'onvif_request_errors_total', help: 'ONVIF SOAP requests that failed, by operation and error code', labelNames: ['operation', 'code'], registers: [registry] }),
    drift: new Gauge({ name: 'onvif_clock_drift_seconds', help: 'Camera clock minus the box clock, seconds', labelNames: ['camera'], registers: [registry] }),
  };
}
