import type { TreeEvent } from '../core/events.ts';
import type { ChildSnapshot, TreeSnapshot } from '../runtime/types.ts';
import type { ApiClient } from './client.ts';
import { CliError, exitCodes } from './errors.ts';
import { formatEvent, formatStatus } from './format.ts';
import { formatLogLine, rawLogLine } from './log-format.ts';

/** Where commands write; injectable so commands are testable without a process. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export const consoleOutput: Output = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

export async function statusCommand(api: ApiClient, io: Output, json: boolean): Promise<void> {
  const tree = await api.get<TreeSnapshot>('/v1/tree');
  io.out(json ? JSON.stringify(tree, null, 2) : formatStatus(tree));
}

/**
 * restart|stop|start. A restart prints what the supervisor restarts, in order ("restarting
 * camera, then inference (rest_for_one)"); `only` restarts the named child alone.
 */
export async function actionCommand(api: ApiClient, io: Output, action: 'restart' | 'stop' | 'start', id: string, opts: { only?: boolean } = {}): Promise<void> {
  const query = action === 'restart' && opts.only ? '?only=1' : '';
  const res = await api.post<{ child: string; message?: string }>(`/v1/children/${encodeURIComponent(id)}/${action}${query}`);
  // A supervisor from before plans were answered says only which child it took.
  io.out(res.message ?? `${action} requested: ${res.child}`);
}

/**
 * `add PARENT`: a child from PARENT's template (simple_one_for_one: `--id`, `--env`, `--arg`, `--option`), or
 * the child spec of `--file` (YAML, as a child in the tree file). Prints the new child's id.
 */
export async function addCommand(api: ApiClient, io: Output, parent: string, child: unknown): Promise<void> {
  const res = await api.post<{ added: string; parent: string }>('/v1/children', { parent, child });
  io.out(`added ${res.added} to ${res.parent}`);
}

/** `delete ID`: stops a child added at run time, then deletes it. */
export async function deleteCommand(api: ApiClient, io: Output, id: string): Promise<void> {
  await api.delete(`/v1/children/${encodeURIComponent(id)}`);
  io.out(`deleting ${id} (stopped, then removed from the tree)`);
}

/**
 * `logs ID`: the child's last output lines. A JSON log line is printed readable (formatLogLine:
 * time, level, message, key fields); `json` prints it as logged. Other lines (ffmpeg, a child
 * that prints text, the backend's notes) pass through unchanged either way.
 */
export async function logsCommand(api: ApiClient, io: Output, id: string, opts: { json?: boolean } = {}): Promise<void> {
  const child = await api.get<ChildSnapshot & { logs: string[] }>(`/v1/children/${encodeURIComponent(id)}`);
  for (const line of child.logs) io.out(opts.json ? rawLogLine(line) : formatLogLine(line));
}

interface EventsPage {
  events: TreeEvent[];
  lastSeq: number;
}

const printEvent = (io: Output, ev: TreeEvent, json: boolean) => io.out(json ? JSON.stringify(ev) : formatEvent(ev));

/**
 * `events`: without --since, the last `tail` events; with it, everything after that seq (paged).
 * With --follow, then streams live events and reconnects with Last-Event-ID when the stream drops,
 * so a supervisor restart does not lose or repeat lines.
 */
export async function eventsCommand(
  api: ApiClient,
  io: Output,
  opts: { since?: number; follow: boolean; json: boolean; tail?: number; signal?: AbortSignal },
): Promise<void> {
  let after: number;
  if (opts.since === undefined) {
    const head = await api.get<EventsPage>('/v1/events?limit=1');
    after = Math.max(0, head.lastSeq - (opts.tail ?? 20));
  } else {
    after = opts.since;
  }
  for (;;) {
    const page: EventsPage = await api.get<EventsPage>(`/v1/events?since=${after}&limit=1000`);
    for (const ev of page.events) printEvent(io, ev, opts.json);
    if (page.events.length > 0) after = page.events.at(-1)!.seq;
    if (page.events.length < 1000) break;
  }
  if (opts.follow) await followEvents(api, io, after, opts.json, opts.signal ?? new AbortController().signal);
}

/** Parses one SSE frame; returns the event if it carries one. */
export function parseSseFrame(frame: string): TreeEvent | null {
  let data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
  }
  if (!data) return null;
  return JSON.parse(data) as TreeEvent;
}

async function followEvents(api: ApiClient, io: Output, after: number, json: boolean, signal: AbortSignal): Promise<void> {
  // Heartbeats arrive every 15 s; silence for much longer means a dead connection that TCP has
  // not noticed (a pulled cable): reconnect rather than hang forever.
  const silenceMs = 45_000;
  let lastSeq = after;
  let failures = 0;
  while (!signal.aborted) {
    const ctl = new AbortController();
    const stop = () => ctl.abort();
    signal.addEventListener('abort', stop, { once: true });
    let watchdog: NodeJS.Timeout | undefined;
    try {
      const res = await api.stream('/v1/events', { 'last-event-id': String(lastSeq) }, ctl.signal);
      failures = 0;
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      const arm = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => ctl.abort(), silenceMs);
      };
      arm();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        buf += value.replace(/\r\n?/g, '\n');
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const ev = parseSseFrame(buf.slice(0, cut));
          buf = buf.slice(cut + 2);
          if (ev && ev.seq > lastSeq) {
            lastSeq = ev.seq;
            printEvent(io, ev, json);
          }
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      // A refusal (bad token...) will not fix itself; a lost connection may.
      if (err instanceof CliError && err.exitCode !== exitCodes.unreachable) throw err;
      if (++failures === 1) io.err(`edgevisor: event stream lost (${err instanceof Error ? err.message : String(err)}); reconnecting`);
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener('abort', stop);
    }
    if (signal.aborted) return;
    await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** Math.min(failures, 5))));
  }
}
