/**
 * `edgevisor run`'s stdout: readable lines on a terminal, JSON elsewhere, EDGEVISOR_LOG_FORMAT
 * over the guess (supervisor/src/cli/terminal-log.ts, config.ts). The formatting is
 * `edgevisor logs`' own (cli/log-format.ts), applied to the real logger's lines.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../supervisor/src/config.ts';
import { EdgevisorError } from '../../supervisor/src/errors.ts';
import { createLogger, logEvent } from '../../supervisor/src/log.ts';
import { formatLogLine } from '../../supervisor/src/cli/log-format.ts';
import { chooseLogFormat, lineRewriter, prettyLine } from '../../supervisor/src/cli/terminal-log.ts';

/** The supervisor's logger as `run` builds it for a format, its output kept. */
function supervisorLogger(format: 'json' | 'pretty') {
  const out: string[] = [];
  const rewriteLine = lineRewriter(format);
  const log = createLogger({ app: 'supervisor', destination: { write: (s: string) => void out.push(s) }, ...(rewriteLine ? { rewriteLine } : {}) });
  return { log, out };
}
const READABLE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}(INFO|WARN|ERROR) +\S/;

describe('the choice', () => {
  test('auto: readable on a terminal, JSON otherwise; json and pretty whatever stdout is', () => {
    assert.equal(chooseLogFormat('auto', true), 'pretty');
    assert.equal(chooseLogFormat('auto', false), 'json');
    for (const tty of [true, false]) {
      assert.equal(chooseLogFormat('json', tty), 'json');
      assert.equal(chooseLogFormat('pretty', tty), 'pretty');
    }
  });

  test('EDGEVISOR_LOG_FORMAT: unset or blank is auto; json, pretty, auto in any case; anything else names the variable and what is accepted', () => {
    assert.equal(loadConfig({}).logFormat, 'auto');
    assert.equal(loadConfig({ EDGEVISOR_LOG_FORMAT: ' ' }).logFormat, 'auto');
    assert.equal(loadConfig({ EDGEVISOR_LOG_FORMAT: 'json' }).logFormat, 'json');
    assert.equal(loadConfig({ EDGEVISOR_LOG_FORMAT: 'Pretty' }).logFormat, 'pretty');
    assert.equal(loadConfig({ EDGEVISOR_LOG_FORMAT: 'auto' }).logFormat, 'auto');
    assert.throws(() => loadConfig({ EDGEVISOR_LOG_FORMAT: 'text' }), (err: EdgevisorError) => {
      assert.equal(err.code, 'EDGEVISOR_ERR_SPEC_INVALID');
      assert.deepEqual(err.details, ['EDGEVISOR_LOG_FORMAT: expected json, pretty or auto (readable on a terminal, else JSON), got "text"']);
      return true;
    });
  });
});

describe('the lines', () => {
  test('pretty: each line as `edgevisor logs` prints it: time, level, msg, app, child, fields, err with its cause', () => {
    const { log, out } = supervisorLogger('pretty');
    log.warn({ child: 'camera', pgid: 42 }, 'stopped camera (process group 42), left running by a previous supervisor');
    log.error({ err: new Error('store closed', { cause: Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }) }) }, 'stopping the tree failed');
    assert.equal(out.length, 2);
    for (const l of out) {
      assert.ok(l.endsWith('\n') && !l.slice(0, -1).includes('\n'), JSON.stringify(l));
      assert.match(l, READABLE);
      assert.ok(!l.startsWith('{'));
    }
    assert.match(out[0]!, / {2}WARN {3}stopped camera \(process group 42\), left running by a previous supervisor {2}app=supervisor child=camera pgid=42\n$/);
    assert.match(out[1]!, / {2}ERROR {2}stopping the tree failed {2}app=supervisor err="Error: store closed <- cause: Error: disk I\/O error \[SQLITE_IOERR\]"\n$/);
  });

  test('a tree event reads as its type, change and reason, about its child', () => {
    const { log, out } = supervisorLogger('pretty');
    logEvent(log, { seq: 7, ts: Date.now(), type: 'restart', child: 'inference', from: 'unhealthy', to: 'starting', reason: 'probe fresh failed 3 times' });
    assert.match(out[0]!, READABLE);
    assert.match(out[0]!, / {2}WARN {3}restart: unhealthy -> starting: probe fresh failed 3 times {2}app=supervisor child=inference event=restart seq=7 from=unhealthy to=starting\n$/);
  });

  test('json: the lines are the JSON the logger writes, untouched; pretty is the formatter applied to that JSON', () => {
    const json = supervisorLogger('json');
    json.log.info({ child: 'web', url: 'http://127.0.0.1:7070' }, 'API listening');
    const obj = JSON.parse(json.out[0]!) as Record<string, unknown>;
    assert.deepEqual([obj['level'], obj['app'], obj['child'], obj['url'], obj['msg']], ['info', 'supervisor', 'web', 'http://127.0.0.1:7070', 'API listening']);
    assert.equal(prettyLine(json.out[0]!), `${formatLogLine(json.out[0]!.trimEnd())}\n`);
    assert.match(prettyLine(json.out[0]!), / {2}INFO {3}API listening {2}app=supervisor child=web url=http:\/\/127\.0\.0\.1:7070\n$/);
  });

  test('a line that is not a JSON log line passes through', () => {
    assert.equal(prettyLine('plain text\n'), 'plain text\n');
    assert.equal(prettyLine('{"a":1}\n'), '{"a":1}\n');
  });
});
