/**
 * The `edgevisor` process: parse arguments, read the environment once, run one command, map the
 * outcome to an exit code. Each command lives in its own module and is testable without this file.
 */
import { EdgevisorError, codes } from '../errors.ts';
import { loadConfig, type Config } from '../config.ts';
import { parseCommand, usage, type Command } from './args.ts';
import { createApiClient } from './client.ts';
import { actionCommand, addCommand, consoleOutput, deleteCommand, eventsCommand, logsCommand, statusCommand } from './commands.ts';
import { readYamlSource } from '../spec/yaml-config.ts';
import { CliError, exitCodes } from './errors.ts';
import { validateCommand } from './tree-file.ts';

async function dispatch(command: Command, config: () => Config): Promise<void> {
  const io = consoleOutput;
  const api = () => createApiClient({ baseUrl: config().apiUrl, token: config().token });
  switch (command.cmd) {
    case 'help':
      return io.out(usage);
    case 'validate':
      return validateCommand(io, command.file);
    case 'run': {
      // Imported lazily: the runtime, fastify and SQLite are not needed by the client commands.
      const { runCommand } = await import('./run.ts');
      return runCommand(io, command.file, config());
    }
    case 'status':
      return statusCommand(api(), io, command.json);
    case 'restart':
      return actionCommand(api(), io, command.cmd, command.id, { only: command.only });
    case 'stop':
    case 'start':
      return actionCommand(api(), io, command.cmd, command.id);
    case 'events': {
      const ctl = new AbortController();
      process.once('SIGINT', () => ctl.abort());
      return eventsCommand(api(), io, { since: command.since, follow: command.follow, json: command.json, signal: ctl.signal });
    }
    case 'logs':
      return logsCommand(api(), io, command.id, { json: command.json });
    case 'add': {
      // A child spec file is read here (size, depth and alias limits of the tree file), checked by the supervisor.
      const child = command.file !== undefined
        ? readYamlSource(command.file).data
        : { ...(command.id !== undefined ? { id: command.id } : {}), ...(Object.keys(command.env).length ? { env: command.env } : {}), ...(command.args.length ? { args: command.args } : {}), ...(Object.keys(command.options).length ? { options: command.options } : {}) };
      return addCommand(api(), io, command.parent, child);
    }
    case 'delete':
      return deleteCommand(api(), io, command.id);
  }
}

function fail(err: unknown): never {
  if (err instanceof CliError) {
    const first = err.bare ? err.message : `edgevisor: ${err.message}`;
    process.stderr.write([first, ...err.lines].join('\n') + '\n');
    process.exit(err.exitCode);
  }
  if (err instanceof EdgevisorError && err.code === codes.SPEC_INVALID) {
    const lines = err.details.length ? err.details.map((d) => `edgevisor: ${d}`) : [`edgevisor: ${err.message}`];
    process.stderr.write(lines.join('\n') + '\n');
    process.exit(exitCodes.usage);
  }
  process.stderr.write(`edgevisor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(exitCodes.refused);
}

let cached: Config | undefined;
try {
  const command = parseCommand(process.argv.slice(2));
  await dispatch(command, () => (cached ??= loadConfig()));
} catch (err) {
  fail(err);
}
