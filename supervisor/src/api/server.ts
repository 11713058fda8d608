import type { FastifyInstance } from 'fastify';

/**
 * Starts listening. Separate from app.ts so tests build the same app and listen on port 0.
 * Returns the base URL actually bound (the real port when `port` is 0).
 */
export async function listenApi(app: FastifyInstance, listen: { host: string; port: number }): Promise<string> {
  await app.listen({ host: listen.host, port: listen.port });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') return `http://${listen.host}:${listen.port}`;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${host}:${addr.port}`;
}
