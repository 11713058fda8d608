import { parseArgs } from 'node:util';
import { CliError, exitCodes } from './errors.ts';

/** A parsed command line: one variant per command, checked by the compiler in main.ts. */
export type Command =
  | { cmd: 'help' }
  | { cmd: 'run'; file: string }
  | { cmd: 'validate'; file: string }
  | { cmd: 'status'; json: boolean }
  | { cmd: 'restart'; id: string; only: boolean }
  | { cmd: 'stop' | 'start'; id: string }
  | { cmd: 'events'; follow: boolean; since?: number; json: boolean }
  | { cmd: 'logs'; id: string; json: boolean }
  | { cmd: 'add'; parent: string; id?: string; env: Record<string, string>; args: string[]; options: Record<string, string>; file?: string }
  | { cmd: 'delete'; id: string };

export const usage = `usage: edgevisor <command> [options]

commands:
  run TREE.yaml                 supervise the tree and serve the control API
  validate TREE.yaml            check a tree file (exit 0 if valid, 1 with one message per problem)
  status [--json]               the state of every child
  restart ID [--only]           restart a child and what depends on it (its supervisor's strategy:
                                rest_for_one also restarts the children after it); --only: it alone
  stop|start ID                 a manual action (restart, stop and start need a technician token)
  events [--follow] [--since SEQ] [--json]
                                the event log (the last 20 unless --since), then live with --follow
  logs ID [--json]              the last 50 lines of a child's output (a container's own log for
                                Docker): JSON lines read as time, level, message, fields; --json: as
                                logged
  add PARENT [--id ID] [--env K=V]... [--arg A]... [--option K=V]...
                                add a child to a simple_one_for_one supervisor, from its template
                                (--env, --arg: process and thread templates; --option: custom;
                                an app's inner one too: add camera/discovered --id cam9)
  add PARENT --file CHILD.yaml  add a child (a child spec as in the tree file) to a supervisor
  delete ID                     stop a child added at run time, then delete it (camera/cam9 too)
  help                          this text

environment:
  EDGEVISOR_API     where the supervisor listens (default http://127.0.0.1:7070)
  EDGEVISOR_TOKEN   bearer token sent by the CLI commands
  EDGEVISOR_VIEWER_TOKEN, EDGEVISOR_TECHNICIAN_TOKEN, EDGEVISOR_LISTEN, LOG_LEVEL   used by \`run\``;

const usageError = (message: string) => new CliError(`${message} (see "edgevisor help")`, exitCodes.usage);

/** Parses argv (without node and the script). Throws CliError(usage) on anything unexpected. */
export function parseCommand(argv: readonly string[]): Command {
  const [cmd, ...rest] = argv;
  const parse = (options: Record<string, { type: 'boolean' | 'string'; multiple?: boolean }>, positionals: number, what: string) => {
    let parsed;
    try {
      parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
    } catch (err) {
      throw usageError(`${cmd}: ${(err as Error).message.split('\n')[0]}`);
    }
    if (parsed.positionals.length !== positionals) {
      throw usageError(positionals ? `${cmd}: expected ${what}` : `${cmd}: unexpected argument "${parsed.positionals[0]}"`);
    }
    return parsed;
  };

  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { cmd: 'help' };
    case 'run':
    case 'validate': {
      const p = parse({}, 1, 'one tree file, e.g. tree.yaml');
      return { cmd, file: p.positionals[0]! };
    }
    case 'status': {
      const p = parse({ json: { type: 'boolean' } }, 0, '');
      return { cmd, json: p.values.json === true };
    }
    case 'restart': {
      const p = parse({ only: { type: 'boolean' } }, 1, 'one child id');
      return { cmd, id: p.positionals[0]!, only: p.values.only === true };
    }
    case 'add': {
      const p = parse({ id: { type: 'string' }, env: { type: 'string', multiple: true }, arg: { type: 'string', multiple: true }, option: { type: 'string', multiple: true }, file: { type: 'string' } }, 1, 'one supervisor id');
      const v = p.values as { id?: string; env?: string[]; arg?: string[]; option?: string[]; file?: string };
      const pairs = (flag: string, list: string[] = []) => {
        const out: Record<string, string> = {};
        for (const kv of list) {
          const cut = kv.indexOf('=');
          if (cut <= 0) throw usageError(`add: --${flag} expects NAME=VALUE, got "${kv}"`);
          out[kv.slice(0, cut)] = kv.slice(cut + 1);
        }
        return out;
      };
      const [env, options] = [pairs('env', v.env), pairs('option', v.option)];
      if (v.file !== undefined && (v.id !== undefined || v.env || v.arg || v.option)) throw usageError('add: --file takes the whole child spec; --id, --env, --arg and --option are for a template');
      return { cmd, parent: p.positionals[0]!, id: v.id, env, args: v.arg ?? [], options, file: v.file };
    }
    case 'delete':
    case 'stop':
    case 'start': {
      const p = parse({}, 1, 'one child id');
      return { cmd, id: p.positionals[0]! };
    }
    case 'logs': {
      const p = parse({ json: { type: 'boolean' } }, 1, 'one child id');
      return { cmd, id: p.positionals[0]!, json: p.values.json === true };
    }
    case 'events': {
      const p = parse({ follow: { type: 'boolean' }, since: { type: 'string' }, json: { type: 'boolean' } }, 0, '');
      const sinceRaw = p.values.since as string | undefined;
      if (sinceRaw !== undefined && !/^\d+$/.test(sinceRaw)) throw usageError(`events: --since expects an event number (integer >= 0), got "${sinceRaw}"`);
      return { cmd, follow: p.values.follow === true, json: p.values.json === true, since: sinceRaw === undefined ? undefined : Number(sinceRaw) };
    }
    default:
      throw usageError(`unknown command "${cmd}"`);
  }
}
