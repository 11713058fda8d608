import { buildApp, type OnvifApp } from '../../apps/onvif/src/app.ts';
import type { OnvifConfig } from '../../apps/onvif/src/config.ts';
import type { CameraView } from '../../apps/onvif/src/cameras.ts';

/** An in-process ONVIF service on 127.0.0.1:0 that records every answer and log line (to search them). */
export interface ServiceHarness {
  svc: OnvifApp;
  base: string;
  /** Every response body, in order. */
  answers: string[];
  logs: string[];
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  camera(id: string): Promise<CameraView>;
  stop(): Promise<void>;
}

export async function startService(config: Partial<OnvifConfig> = {}): Promise<ServiceHarness> {
  const logs: string[] = [];
  const answers: string[] = [];
  const svc = buildApp({ config: { refreshIntervalMs: 60_000, requestTimeoutMs: 2000, backoffMs: 1000, ...config }, log: (l) => logs.push(JSON.stringify(l)) });
  svc.start();
  await svc.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(svc.app.server.address() as { port: number }).port}`;
  const api = async <T>(method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}), signal: AbortSignal.timeout(20_000) });
    const text = await r.text();
    answers.push(text);
    return { status: r.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  return {
    svc, base, answers, logs, api,
    camera: async (id) => (await api<CameraView>('GET', `/cameras/${id}`)).body,
    stop: () => svc.stop(),
  };
}
