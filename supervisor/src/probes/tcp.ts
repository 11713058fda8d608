/**
 * `tcp` probe: a TCP connect to host:port within the timeout. The socket is closed at once; a
 * listener that accepts is all this checks (use `http` to check that something answers).
 */
import net from 'node:net';
import type { ProbeCheck } from '../spec/types.ts';
import type { ProbeFn } from './types.ts';
import { guardProbe } from './common.ts';

export type TcpCheck = Extract<ProbeCheck, { kind: 'tcp' }>;

export const tcpProbe: ProbeFn<TcpCheck> = (check, _target, timeoutMs, signal) =>
  guardProbe(timeoutMs, signal, (ctx) =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ host: check.host, port: check.port });
      const onAbort = () => {
        socket.destroy();
        reject(ctx.signal.reason);
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        ctx.signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve({});
      });
      socket.once('error', (err) => {
        ctx.signal.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(err);
      });
    }),
  );
