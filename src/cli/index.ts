import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, errorMessage, EXIT_CONFIG } from '../errors';
import { redactSecrets } from '../secrets';
import { JOB_STATES, type JobState } from '../db/queries/inspect';
import type { ParamInput } from '../db/queries/submit';
import { VERSION } from '../version';
import { commandContext, type GlobalOptions } from './context';
import { configGetCommand, configSetCommand, excludeCommand } from './commands/config';
import { consoleCommand } from './commands/console';
import { cancelCommand, listCommand, retryCommand, showCommand } from './commands/jobs';
import { purgeCommand } from './commands/purge';
import { migrateCommand } from './commands/migrate';
import { addRenderCommand } from './commands/render';
import { startCommand } from './commands/start';
import { statusCommand, unknownLine } from './commands/status';
import { parseParam, submitActionCommand, submitEmailCommand, submitReportCommand } from './commands/submit';
import { scheduleAddCommand, scheduleListCommand, scheduleNextCommand, scheduleStateCommand } from './commands/schedule';

function positiveInt(name: string, min = 1) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > 1_000_000_000) throw new InvalidArgumentError(`${name} must be a whole number of at least ${min}`);
    return Number(v);
  };
}

function jobId(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 2_147_483_647) throw new InvalidArgumentError('a job ID is a whole number (batch_id)');
  return Number(v);
}

function seriesId(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 2_147_483_647) throw new InvalidArgumentError('a series ID is a whole number (schedule_id, see "schedule list")');
  return Number(v);
}

function collectParam(v: string, prev: ParamInput[]): ParamInput[] {
  try {
    return parseParam(v, prev);
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
}

/** Builds the command tree. Every action resolves to an exit code; nothing here calls process.exit. */
export function buildProgram(out: NodeJS.WritableStream, setCode: (code: number) => void): Command {
  const program = new Command('xtconnect')
    .description('Headless batch manager for xTuple ERP: runs the jobs in xtbatch.batch (email, reports, file transfer, maintenance).')
    .version(VERSION)
    .option('-c, --config <file>', 'config file (default /etc/xtconnect/xtconnect.yaml, or $XTCONNECT_CONFIG)')
    .option('--database-url <url>', 'PostgreSQL connection string (overrides the config file and DATABASE_URL)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['error', 'warn', 'info', 'debug']))
    .showHelpAfterError()
    .exitOverride();

  const ctx = () => commandContext(program.opts<GlobalOptions>());
  const run = (p: Promise<number>) => p.then(setCode);

  program
    .command('start')
    .description('Run the daemon: migrate the schema, then claim and run due jobs until SIGTERM/SIGINT. With no database configured it starts an embedded PostgreSQL; with no SMTP server, mail goes to an outbox folder as .eml files.')
    .option('--no-migrate', 'do not apply pending migrations at start (refuse to run instead)')
    .action((o: { migrate: boolean }) => run(startCommand(ctx(), o)));

  program
    .command('migrate')
    .description('Install or upgrade the xtbatch schema (tables, xTuple functions, settings). Safe to run again.')
    .option('--dry-run', 'list the migrations that would be applied, change nothing', false)
    .action((o: { dryRun: boolean }) => run(migrateCommand(ctx(), o, out)));

  program
    .command('status')
    .description('One line for monitoring: daemons alive and claiming, due, running, failed in a window, oldest waiting job. Exit 0 OK, 1 WARNING, 2 CRITICAL (no daemon claiming, database down), 3 UNKNOWN (no xtbatch schema, no rights, bad thresholds).')
    .option('--json', 'print JSON instead of the line', false)
    .option('--min-daemons <n>', 'CRITICAL below this many claiming daemons (default 1)', positiveInt('--min-daemons'))
    .option('--warn-daemons <n>', 'WARNING below this many claiming daemons (default --min-daemons)', positiveInt('--warn-daemons'))
    .option('--max-failures <n>', 'WARNING at this many failures in the window (default status.maxFailures24h)', positiveInt('--max-failures'))
    .option('--crit-failures <n>', 'CRITICAL at this many failures in the window (default none)', positiveInt('--crit-failures'))
    .option('--failure-window <duration>', 'where failures are counted: seconds, or 30m, 24h, 7d (default 24h)')
    .option('--max-queue-age <seconds>', 'WARNING when a due job waited longer (default status.maxQueueAgeSeconds)', positiveInt('--max-queue-age'))
    .option('--crit-queue-age <seconds>', 'CRITICAL when a due job waited longer (default none)', positiveInt('--crit-queue-age'))
    // Monitoring plugins answer bad arguments with UNKNOWN (3), not this program's usual 2, on one line on stdout
    // (what Nagios or Icinga shows), without the usage text.
    .showHelpAfterError(false)
    .configureOutput({ outputError: (text) => out.write(`${unknownLine(text.replace(/^error:\s*/, '').trim())}\n`) })
    .exitOverride((err) => { throw new CommanderError(err.exitCode === 0 ? 0 : 3, err.code, err.message); })
    .action((o) => run(statusOrUnknown(() => statusCommand(ctx(), o, out), out)));

  const submit = program.command('submit').description('Queue a job, through the same xtbatch functions the ERP calls. Prints the new job ID.');
  submit
    .command('email')
    .description('Queue an Email job (xtbatch.submitEmailToBatch).')
    .requiredOption('--to <addresses>', 'recipients, comma-separated')
    .requiredOption('--subject <text>', 'subject')
    .option('--body <text>', 'body', '')
    .option('--from <address>', 'sender (default: the DefaultBatchFromEmailAddress setting)')
    .option('--cc <addresses>', 'copy to')
    .option('--bcc <addresses>', 'blind copy to')
    .option('--reply-to <address>', 'reply-to')
    .option('--html', 'the body is HTML', false)
    .option('--attach <file>', 'a file to attach')
    .option('--at <time>', 'start at this time, "YYYY-MM-DD HH:MM" (database server time); default now')
    .option('--in <delay>', 'start after this long: 30s, 15m, 2h, 1d')
    .action((o) => run(submitEmailCommand(ctx(), o, out)));
  submit
    .command('action <name>')
    .description('Queue an ERP action job (xtbatch.submitActionToBatch), e.g. ServerMaintenance.')
    .option('--email <address>', 'where to send the "done" notice')
    .option('--param <name[:type]=value>', 'a parameter (repeatable); type as xTuple writes it: QString, int, double, bool, QDate', collectParam, [])
    .option('--at <time>', 'start at this time, "YYYY-MM-DD HH:MM"')
    .option('--in <delay>', 'start after this long: 30s, 15m, 2h, 1d')
    .action((name: string, o) => run(submitActionCommand(ctx(), name, o, out)));
  submit
    .command('report <name>')
    .description('Queue a RunReport job (xtbatch.submitReportToBatch) with its parameters.')
    .option('--to <addresses>', 'email the output to')
    .option('--from <address>', 'sender')
    .option('--cc <addresses>', 'copy to')
    .option('--subject <text>', 'subject (default: the report name)')
    .option('--body <text>', 'body')
    .option('--filename <name>', 'output file name (default: <report>.pdf)')
    .option('--html', 'the body is HTML', false)
    .option('--param <name[:type]=value>', 'a report parameter (repeatable)', collectParam, [])
    .option('--at <time>', 'start at this time, "YYYY-MM-DD HH:MM"')
    .option('--in <delay>', 'start after this long: 30s, 15m, 2h, 1d')
    .action((name: string, o) => run(submitReportCommand(ctx(), name, o, out)));

  addRenderCommand(program, ctx, run, out);

  program
    .command('list')
    .description('List jobs, newest first.')
    .addOption(new Option('--state <state>', 'only jobs in this state').choices([...JOB_STATES]))
    .option('--action <action>', 'only this action (e.g. Email)')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 50)
    .option('--json', 'print JSON', false)
    .action((o: { state?: JobState; action?: string; limit: number; json: boolean }) => run(listCommand(ctx(), o, out)));

  program
    .command('show')
    .argument('<id>', 'job ID (batch_id)', jobId)
    .description('Show one job: its row, parameters, attempts, exit status and result.')
    .option('--json', 'print JSON', false)
    .action((id: number, o: { json: boolean }) => run(showCommand(ctx(), id, o.json, out)));

  program
    .command('retry')
    .argument('<id>', 'job ID (batch_id)', jobId)
    .description('Run a finished or failed job again now, with a fresh attempt count (xTuple\'s Retry).')
    .action((id: number) => run(retryCommand(ctx(), id, out)));

  program
    .command('cancel')
    .argument('<id>', 'job ID (batch_id)', jobId)
    .description('Cancel a job that has not finished; a running one is stopped at its next heartbeat.')
    .action((id: number) => run(cancelCommand(ctx(), id, out)));

  program
    .command('purge')
    .description('Delete finished jobs (done, failed, cancelled) now, with their parameters; the daemon does this nightly. Without options: those finished more than BatchManagerPurgeDays ago (not set or 0: nothing). A job finished less than a day ago is deleted only with --older-than under 1d and --yes.')
    .option('--days <n>', 'finished more than N days ago (N at least 1; 0 is refused: for BatchManagerPurgeDays 0 means never)', positiveInt('--days', 0))
    .option('--older-than <age>', 'finished more than this long ago: 30d, 12h, 90m, 0s (under a day needs --yes)')
    .option('--yes', 'confirm an --older-than under a day', false)
    .action((o: { days?: number; olderThan?: string; yes: boolean }) => run(purgeCommand(ctx(), o, out)));

  const schedule = program.command('schedule').description('Repeating jobs: cron or every-N rules in a time zone, each occurrence run exactly once across daemons (docs/schedules.md).');
  schedule
    .command('add')
    .description('Add a series. Prints its ID. Bad rules (invalid cron, unknown time zone, interval 0) are refused with exit code 2.')
    .requiredOption('--action <action>', 'the batch_action of each occurrence (e.g. Email, ServerMaintenance)')
    .option('--name <name>', 'a unique name')
    .option('--cron <expr>', 'cron expression in --tz: "30 2 * * *" is 02:30 every day (a time the clocks skip runs at the first time after the gap); six fields: seconds first')
    .option('--every <interval>', 'every N minutes/hours/days from --start: 15m, 2h, 1d; days keep the local time of day, minutes and hours count elapsed time')
    .option('--tz <zone>', 'IANA time zone (default: this machine\'s)')
    .option('--start <time>', 'first possible time, and the anchor of --every (default now)')
    .option('--end <time>', 'no occurrence after this time')
    .option('--count <n>', 'at most this many occurrences', positiveInt('--count'))
    .addOption(new Option('--missed <policy>', 'occurrences whose time came while no daemon ran, waiting rows inserted ahead included: once = run only the latest, all = run the latest --missed-max, skip = run none; the others are cancelled or never inserted').choices(['once', 'all', 'skip']).default('once'))
    .option('--missed-max <n>', 'with --missed all: how many of the latest missed occurrences run', positiveInt('--missed-max'), 10)
    .option('--param <name[:type]=value>', 'a job parameter (repeatable)', collectParam, [])
    .option('--to <addresses>', 'batch_email: recipients (Email) or where to send the done notice')
    .option('--from <address>', 'sender')
    .option('--cc <addresses>', 'copy to')
    .option('--bcc <addresses>', 'blind copy to')
    .option('--reply-to <address>', 'reply-to')
    .option('--subject <text>', 'subject')
    .option('--body <text>', 'body')
    .option('--html', 'the body is HTML', false)
    .option('--parameter <text>', 'batch_parameter (e.g. the report name of RunReport)')
    .option('--filename <name>', 'batch_filename')
    .action((o) => run(scheduleAddCommand(ctx(), o, out)));
  schedule
    .command('list')
    .description('List series: state; RUNS, the occurrences that ran (done, failed, running, retrying; not waiting or cancelled), "/N" with --count; NEXT, the next run to the second in the series\' zone (an occurrence already waiting included); rule.')
    .option('--all', 'include removed series', false)
    .option('--json', 'print JSON', false)
    .action((o: { all: boolean; json: boolean }) => run(scheduleListCommand(ctx(), o, out)));
  schedule
    .command('next')
    .argument('<id>', 'series ID', seriesId)
    .description('The next runs of a series, to the second in its time zone: occurrences already inserted and waiting first, then the rule\'s, within --end and --count.')
    .option('--count <n>', 'how many', positiveInt('--count'), 5)
    .action((id: number, o: { count: number }) => run(scheduleNextCommand(ctx(), id, o.count, out)));
  for (const op of ['pause', 'resume', 'remove'] as const) {
    const what = { pause: 'Pause a series (waiting occurrences are cancelled).', resume: 'Resume a paused series from now (the pause is not made up).', remove: 'Stop a series for good; its waiting occurrences are cancelled, finished ones stay.' }[op];
    schedule.command(op).argument('<id>', 'series ID', seriesId).description(what).action((id: number) => run(scheduleStateCommand(ctx(), op, id, out)));
  }

  program
    .command('console')
    .description('Serve only the web console (jobs, schedules, settings, daemons; docs/console.md), claiming no jobs. Binds console.listen, or 127.0.0.1:8080.')
    .option('--listen <[host:]port>', 'where to listen (default console.listen, else 127.0.0.1:8080; a bare port binds loopback)')
    .action((o: { listen?: string }) => run(consoleCommand(ctx(), o)));

  const config = program.command('config').description('Read and change the settings of the xTuple Connect screen (stored in the database).');
  config
    .command('get [name]')
    .description('Print one setting, or all: EnableBatchManager, DefaultBatchFromEmailAddress, BatchManagerPurgeDays, EmailSyncCreateContacts, ExcludeContactsMatching.')
    .option('--json', 'print JSON', false)
    .action((name: string | undefined, o: { json: boolean }) => run(configGetCommand(ctx(), name, o.json, out)));
  config
    .command('set <name> <value>')
    .description('Change a setting; running daemons see it at once.')
    .action((name: string, value: string) => run(configSetCommand(ctx(), name, value, out)));
  config
    .command('exclude <op> [pattern]')
    .description('Manage "Exclude Contacts Matching": add|remove PATTERN, or list. Patterns: bob@example.com, example.com, *@example.com, *.example.org, noreply@*.')
    .action((op: string, pattern: string | undefined) => {
      if (!['add', 'remove', 'list'].includes(op)) throw new ConfigError(`config exclude: "${op}" is not add, remove or list`);
      return run(excludeCommand(ctx(), op as 'add' | 'remove' | 'list', pattern, out));
    });

  return program;
}

/**
 * A monitoring plugin answers every problem of its own (here: a config file it cannot use) with UNKNOWN, one line
 * on stdout, which is what Nagios or Icinga shows; exit 2 would read as CRITICAL, a verdict on the batch manager.
 */
async function statusOrUnknown(status: () => Promise<number>, out: NodeJS.WritableStream): Promise<number> {
  try {
    return await status();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Only the one line: a monitoring plugin's output is what it prints, and the reason is on it.
    out.write(`${unknownLine(err.message)}\n`);
    return 3;
  }
}

/** Entry point of bin/xtconnect.js. Exit codes: 0 ok, 1 failure, 2 bad config or arguments; status: 0-3. */
export async function main(argv: string[]): Promise<void> {
  let code = 0;
  const program = buildProgram(process.stdout, (c) => (code = c));
  // A command whose promise can no longer settle (a library that dropped a callback) would otherwise let Node
  // exit 0 with nothing said: a monitoring check would read OK, systemd a clean stop.
  const unfinished = (): void => {
    process.stderr.write('xtconnect: the command stopped before it finished, with nothing left to wait for (a connection that never answered?)\n');
    process.exitCode = 1;
  };
  process.once('beforeExit', unfinished);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      code = err.exitCode === 0 ? 0 : err.exitCode === 3 ? 3 : EXIT_CONFIG;
    } else if (err instanceof ConfigError) {
      process.stderr.write(`xtconnect: ${redactSecrets(err.message)}\n`);
      code = EXIT_CONFIG;
    } else {
      const hint = (err as { hint?: string }).hint;
      process.stderr.write(redactSecrets(`xtconnect: ${errorMessage(err)}${hint ? `\n  hint: ${hint}` : ''}\n`));
      code = 1;
    }
  }
  process.off('beforeExit', unfinished);
  process.exitCode = code;
  // Nothing should keep the process alive after a command; if something does (a stray socket), do not hang.
  setTimeout(() => process.exit(code), 1000).unref();
}
