// HEALTHCHECK helper for every edgevisor container (no curl in the image): GET the URL given, or
// http://127.0.0.1:$PORT/healthz, with a 2 s timeout; exit 0 on a 2xx answer, 1 otherwise.
const url = process.argv[2] ?? `http://127.0.0.1:${process.env.PORT ?? '8080'}/healthz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
