/**
 * `docker_health` probe: the container's own HEALTHCHECK status, read through the unit.
 * 'starting' passes: holding failures off during start is the job of `startup_grace`, not of this
 * probe. A container without a HEALTHCHECK fails, so a misconfigured tree is seen at once.
 */
import type { ProbeCheck } from '../spec/types.ts';
import type { ProbeFn } from './types.ts';
import { ProbeFailure, guardProbe } from './common.ts';

export type DockerHealthCheck = Extract<ProbeCheck, { kind: 'docker_health' }>;

export const dockerHealthProbe: ProbeFn<DockerHealthCheck> = (_check, target, timeoutMs, signal) =>
  guardProbe(timeoutMs, signal, async (ctx) => {
    const unit = target.unit;
    if (!unit.health) throw new ProbeFailure('docker_health needs a docker child: this unit has no container health');
    const status = await unit.health(ctx.signal);
    switch (status) {
      case 'healthy':
      case 'starting':
        return {};
      case 'unhealthy':
        throw new ProbeFailure('container HEALTHCHECK reports unhealthy');
      case 'none':
        throw new ProbeFailure('container has no HEALTHCHECK');
      default: {
        const never: never = status;
        throw new ProbeFailure(`unknown container health "${String(never)}"`);
      }
    }
  });
