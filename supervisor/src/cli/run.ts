import { basename, dirname, resolve } from 'node:path';
import { buildApi } from '../api/app.ts';
import { listenApi } from '../api/server.ts';
import { defaultBackends, killAllProcessUnits } from '../backends/index.ts';
import { createGroupRecord, reapRecordedGroups } from '../backends/group-record.ts';
import { recordProcessGroups } from '../backends/process.ts';
import { backendsForTree } from '../backends/docker/index.ts';
import type { Config } from '../config.ts';
import { createTree } from '../runtime/tree.ts';
import { DEFAULT_MAX_PENDING, openBufferedStore } from '../store/buffered-store.ts';
import type { Output } from './commands.ts';
import { createLogger, fastifyLogging, logEvent } from '../log.ts';
import { CliError, exitCodes } from './errors.ts';
import { chooseTree, refusedReason } from './last-good-tree.ts';
import { chooseLogFormat, lineRewriter } from './terminal-log.ts';

/**
 * `edgevisor run TREE.yaml`: the supervisor service. The API listens before the tree starts so a
 * technician can watch (and act on) a slow or failing start.
 *
 * Shutdown is two-phase: the first SIGTERM/SIGINT stops the tree in reverse order (each child
 * with its own grace), closes the API and the store, and exits 0; a second signal (more than
 * 1 s later: an earlier one is the same Ctrl-C reaching us twice) kills every process group we
 * started and exits at once (130), so nothing is left orphaned either way.
 * Containers are the exception (docker.on_exit, default leave): they keep running and the next
 * supervisor adopts them, so restarting the supervisor never restarts the apps.
 */
/** Signals this close to the first one are duplicates of it (see shutdown below). */
const SAME_SIGNAL_MS = 1_000;

export async function runCommand(io: Output, file: string, config: Config): Promise<void> {
  // The service's lines are JSON (app: supervisor; child: the child a line is about), written
  // readable when stdout is a terminal (terminal-log.ts). A refused tree file is still told in the
  // CLI's plain lines on stderr, for the person starting it.
  const rewriteLine = lineRewriter(chooseLogFormat(config.logFormat, process.stdout.isTTY === true));
  const log = createLogger({ app: 'supervisor', level: config.logLevel, ...(rewriteLine ? { rewriteLine } : {}) });
  // A refused tree file: the validator's messages as `edgevisor validate` prints them, then the
  // last good tree if there is one (cli/last-good-tree.ts), else exit 1.
  const choice = chooseTree(file, config.lastGoodTree, (line) => io.err(line));
  if (choice.kind === 'refused') {
    // Exactly what `edgevisor validate` prints, and nothing else (scripts and tests read it).
    throw new CliError(choice.problems[0]!, exitCodes.usage, { lines: choice.problems.slice(1), bare: true });
  }
  if (choice.kind === 'last_good') {
    for (const line of choice.health.problems) io.err(line);
    io.err(`edgevisor: ${choice.health.file} refused: running the last good tree (saved ${choice.health.lastGoodSavedAt})`);
    log.warn({ treeFile: choice.health.file, problems: choice.health.problems, lastGoodSavedAt: choice.health.lastGoodSavedAt }, `${choice.health.file} refused: running the last good tree (saved ${choice.health.lastGoodSavedAt})`);
  }
  const spec = choice.spec;
  const baseDir = spec.file ? dirname(spec.file) : process.cwd();
  // Buffered: a full or failing disk never stops the supervision (events wait in memory).
  const store = openBufferedStore(resolve(baseDir, spec.store.path), { retainEvents: spec.store.retainEvents });

  // Children a previous supervisor on this var folder left running (it was SIGKILLed and their
  // parent watch failed too) are stopped before ours start: they would hold our ports.
  const groupsFile = resolve(dirname(resolve(baseDir, spec.store.path)), 'process-groups.jsonl');
  for (const g of await reapRecordedGroups(groupsFile)) log.warn({ child: g.child, pgid: g.pgid }, `stopped ${g.child} (process group ${g.pgid}), left running by a previous supervisor`);
  recordProcessGroups(createGroupRecord(groupsFile));

  const dockerLog = log.child({ component: 'docker' });
  const extra = await backendsForTree(spec, { log: (line) => dockerLog[/failed|ended|lost/.test(line) ? 'warn' : 'info'](line) });
  const tree = createTree(spec, { sink: store, backends: { ...defaultBackends(), ...extra }, baseDir, onInternalError: (err) => log.error({ err, code: 'EDGEVISOR_ERR_INTERNAL' }, 'internal error (supervision goes on)') });
  tree.onEvent((ev) => logEvent(log, ev));
  store.onHealthChange((h) => {
    const reason = h.writable
      ? 'event log writable again: the events kept in memory are written'
      : `event log cannot be written (${h.error ?? 'error'}): events are kept in memory (up to ${DEFAULT_MAX_PENDING}) and written when the disk takes writes again`;
    tree.record({ type: 'alarm', child: spec.name, reason, data: { store: h.writable ? 'writable' : 'unwritable', pending: h.pending, dropped: h.dropped, ...(h.error ? { error: h.error } : {}) } });
  });

  if (!config.technicianToken) log.warn('no EDGEVISOR_TECHNICIAN_TOKEN: manual actions through the API are disabled');
  const app = buildApi({
    tree,
    store,
    tokens: { viewer: config.viewerToken, technician: config.technicianToken },
    logging: fastifyLogging(log),
    treeFile: choice.health,
  });
  const listen = config.listen ?? spec.api;
  let url: string;
  try {
    url = await listenApi(app, listen);
  } catch (err) {
    store.close();
    extra.docker?.close();
    throw err;
  }
  // The store's file name only: no server path in a log line.
  log.info({ url, tree: spec.name, store: basename(spec.store.path), lastSeq: store.lastSeq() }, `${spec.name}: API listening on ${url} (store ${basename(spec.store.path)}, last event #${store.lastSeq()})`);

  let stopping: Promise<void> | null = null;
  let firstSignalAt = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    // Ctrl-C under `npm start` arrives twice within milliseconds: from the terminal (to the whole
    // foreground process group) and forwarded by the start script. A repeat within this window is
    // the same request; a human asking again to force takes longer than that.
    if (stopping && Date.now() - firstSignalAt < SAME_SIGNAL_MS) return;
    if (stopping) {
      log.warn({ signal }, `${signal} again: killing every child now`);
      killAllProcessUnits();
      process.exit(130);
    }
    firstSignalAt = Date.now();
    log.info({ signal }, `${signal}: stopping ${spec.name} (send ${signal} again to force)`);
    stopping = (async () => {
      try {
        // Containers are left running for the next supervisor unless the tree says on_exit: stop.
        await tree.stop({ leaveRunning: spec.docker?.onExit !== 'stop' });
      } catch (err) {
        log.error({ err }, `stopping the tree failed: ${(err as Error).message}`);
      }
      await app.close();
      extra.docker?.close();
      store.close();
      log.info('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // A rejected promise nobody awaited is a bug of ours, not a reason to stop supervising:
  // report it and go on (Node's default would end the process, and every child with it).
  process.on('unhandledRejection', (err) => log.error({ err, code: 'EDGEVISOR_ERR_INTERNAL' }, `internal error (supervision goes on): ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`));
  // Last resort if we die from an uncaught error: never leave process groups behind.
  process.on('exit', () => killAllProcessUnits());

  if (choice.kind === 'last_good') {
    tree.record({ type: 'alarm', child: spec.name, reason: refusedReason(choice.health), data: { treeFile: choice.health.file, ...(choice.health.line ? { line: choice.health.line } : {}), problems: choice.health.problems, running: 'last_good' } });
  }
  try {
    await tree.start();
  } catch (err) {
    // The tree records what went wrong as events (and gave_up at the root); the API keeps serving.
    log.error({ err }, `starting ${spec.name} failed: ${(err as Error).message}`);
  }
}
