// A technician's request passed on to an app (supervisor/src/inner/forward.ts), against a real
// HTTP server on 127.0.0.1:0 that answers as told: what is sent, which refusals keep their status
// and code, and what becomes INNER_UNAVAILABLE (a 502), with no URL in any message.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { forwardToApp, MIN_FORWARD_TIMEOUT_MS, type ForwardRequest } from '../../supervisor/src/inner/forward.ts';
import { EdgevisorError } from '../../supervisor/src/errors.ts';
import { freePort } from '../helpers/net.ts';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: string }

describe('forwardToApp', () => {
  let server: Server;
  let base: string;
  let answer: { status: number; body?: unknown } | 'hang' = { status: 202, body: {} };
  const seen: Seen[] = [];
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        if (answer === 'hang') return;
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  });

  const add: ForwardRequest = {
    method: 'POST', path: '/v1/children', route: 'POST /v1/children', body: { parent: 'discovered', child: { id: 'cam9' } },
    actor: { role: 'technician', via: 'cli' }, expect: 201, childId: 'camera', fullId: 'camera/discovered', what: 'add',
  };
  const refusal = async (status: number, error: unknown, req: ForwardRequest = add): Promise<EdgevisorError> => {
    answer = { status, body: error === undefined ? undefined : { error } };
    const err = await forwardToApp(base, req, 100).then(() => assert.fail('expected a refusal'), (e: unknown) => e);
    assert.ok(err instanceof EdgevisorError, String(err));
    assert.ok(!err.message.includes('127.0.0.1'), `no URL in "${err.message}"`);
    return err;
  };

  test('sends the body as JSON with via and forwarded-by; resolves with the success answer', async () => {
    answer = { status: 201, body: { added: 'cam9' } };
    seen.length = 0;
    assert.deepEqual(await forwardToApp(base, add, 100), { added: 'cam9' });
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.url, '/v1/children');
    assert.equal(seen[0]!.headers['x-edgevisor-via'], 'cli');
    assert.equal(seen[0]!.headers['x-edgevisor-forwarded-by'], 'supervisor');
    assert.equal(seen[0]!.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(seen[0]!.body), add.body);
    answer = { status: 202, body: { accepted: true } };
    await forwardToApp(base, { ...add, method: 'DELETE', path: '/v1/children/cam9', body: undefined, expect: 202 }, 100);
    assert.equal(seen[1]!.method, 'DELETE');
    assert.equal(seen[1]!.headers['content-type'], undefined, 'no body, no content-type');
  });

  test('the app\'s 400, 404 and 409 keep their code; a 409 or 400 without one gets the usual', async () => {
    let e = await refusal(409, { code: 'EDGEVISOR_ERR_CHILD_EXISTS', message: 'the tree already has a child "cam9"' });
    assert.equal(e.code, 'EDGEVISOR_ERR_CHILD_EXISTS');
    assert.equal(e.message, 'camera/discovered: the tree already has a child "cam9"');
    e = await refusal(409, { message: 'busy' });
    assert.equal(e.code, 'EDGEVISOR_ERR_STATE_CONFLICT');
    e = await refusal(400, { code: 'EDGEVISOR_ERR_SPEC_INVALID', message: 'invalid child: child.env: unknown field' });
    assert.equal(e.code, 'EDGEVISOR_ERR_SPEC_INVALID');
    assert.equal(e.message, 'camera/discovered: invalid child: child.env: unknown field');
    e = await refusal(400, { code: 'SOMETHING_ELSE', message: 'x' });
    assert.equal(e.code, 'EDGEVISOR_ERR_BAD_REQUEST', 'only our codes pass');
    e = await refusal(404, { code: 'EDGEVISOR_ERR_UNKNOWN_CHILD', message: 'no child "nope"' });
    assert.equal(e.code, 'EDGEVISOR_ERR_UNKNOWN_CHILD');
    assert.equal(e.message, 'no child "camera/discovered" (camera says: no child "nope")');
  });

  test('an app without the route, a 5xx, a closed port and silence are INNER_UNAVAILABLE', async () => {
    let e = await refusal(404, { code: 'APP_ERR_NOT_FOUND', message: 'no route POST /v1/children' });
    assert.equal(e.code, 'EDGEVISOR_ERR_INNER_UNAVAILABLE');
    assert.match(e.message, /^camera does not take the add of camera\/discovered \(no route POST \/v1\/children there\)/);
    e = await refusal(500, undefined);
    assert.equal(e.code, 'EDGEVISOR_ERR_INNER_UNAVAILABLE');
    assert.equal(e.message, 'camera refused the add of camera/discovered: status 500');
    const closed = `http://127.0.0.1:${await freePort()}`;
    e = await forwardToApp(closed, add, 100).then(() => assert.fail('expected a refusal'), (x: EdgevisorError) => x);
    assert.equal(e.message, 'camera did not take the add of camera/discovered: not reachable');
    answer = 'hang';
    const t0 = performance.now();
    e = await forwardToApp(base, add, 100).then(() => assert.fail('expected a refusal'), (x: EdgevisorError) => x);
    assert.equal(e.code, 'EDGEVISOR_ERR_INNER_UNAVAILABLE');
    assert.equal(e.message, `camera did not take the add of camera/discovered: no answer within ${MIN_FORWARD_TIMEOUT_MS}ms`);
    assert.ok(performance.now() - t0 >= MIN_FORWARD_TIMEOUT_MS - 50, 'the poll timeout is raised to the forward minimum');
  });
});
