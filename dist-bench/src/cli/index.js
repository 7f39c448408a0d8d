"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.buildProgram = buildProgram;
exports.main = main;
const commander_1 = require("commander");
const errors_1 = require("../errors");
const inspect_1 = require("../db/queries/inspect");
const version_1 = require("../version");
const context_1 = require("./context");
const config_1 = require("./commands/config");
const jobs_1 = require("./commands/jobs");
const migrate_1 = require("./commands/migrate");
const start_1 = require("./commands/start");
const status_1 = require("./commands/status");
const submit_1 = require("./commands/submit");
function positiveInt(name) {
    return (v) => {
        if (!/^\d+$/.test(v))
            throw new commander_1.InvalidArgumentError(`${name} must be a whole number`);
        return Number(v);
    };
}
function jobId(v) {
    if (!/^\d+$/.test(v) || Number(v) > 2_147_483_647)
        throw new commander_1.InvalidArgumentError('a job ID is a whole number (batch_id)');
    return Number(v);
}
function collectParam(v, prev) {
    try {
        return (0, submit_1.parseParam)(v, prev);
    }
    catch (err) {
        throw new commander_1.InvalidArgumentError((0, errors_1.errorMessage)(err));
    }
}
/** Builds the command tree. Every action resolves to an exit code; nothing here calls process.exit. */
function buildProgram(out, setCode) {
    const program = new commander_1.Command('xtconnect')
        .description('Headless batch manager for xTuple ERP: runs the jobs in xtbatch.batch (email, reports, file transfer, maintenance).')
        .version(version_1.VERSION)
        .option('-c, --config <file>', 'config file (default /etc/xtconnect/xtconnect.yaml, or $XTCONNECT_CONFIG)')
        .option('--database-url <url>', 'PostgreSQL connection string (overrides the config file and DATABASE_URL)')
        .addOption(new commander_1.Option('--log-level <level>', 'log level').choices(['error', 'warn', 'info', 'debug']))
        .showHelpAfterError()
        .exitOverride();
    const ctx = () => (0, context_1.commandContext)(program.opts());
    const run = (p) => p.then(setCode);
    program
        .command('start')
        .description('Run the daemon: migrate the schema, then claim and run due jobs until SIGTERM/SIGINT. With no database configured it starts an embedded PostgreSQL; with no SMTP server, mail goes to an outbox folder as .eml files.')
        .option('--no-migrate', 'do not apply pending migrations at start (refuse to run instead)')
        .action((o) => run((0, start_1.startCommand)(ctx(), o)));
    program
        .command('migrate')
        .description('Install or upgrade the xtbatch schema (tables, xTuple functions, settings). Safe to run again.')
        .option('--dry-run', 'list the migrations that would be applied, change nothing', false)
        .action((o) => run((0, migrate_1.migrateCommand)(ctx(), o, out)));
    program
        .command('status')
        .description('One line for monitoring: daemons alive, due, running, failed in 24 h, oldest waiting job. Exit 0 OK, 1 WARNING, 2 CRITICAL (no daemon, database down), 3 UNKNOWN.')
        .option('--json', 'print JSON instead of the line', false)
        .option('--min-daemons <n>', 'CRITICAL below this many live daemons (default 1)', positiveInt('--min-daemons'))
        .option('--max-failures <n>', 'WARNING at this many failures in 24 h (default status.maxFailures24h)', positiveInt('--max-failures'))
        .option('--max-queue-age <seconds>', 'WARNING when a due job waited longer (default status.maxQueueAgeSeconds)', positiveInt('--max-queue-age'))
        .action((o) => run((0, status_1.statusCommand)(ctx(), o, out)));
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
        .action((o) => run((0, submit_1.submitEmailCommand)(ctx(), o, out)));
    submit
        .command('action <name>')
        .description('Queue an ERP action job (xtbatch.submitActionToBatch), e.g. ServerMaintenance.')
        .option('--email <address>', 'where to send the "done" notice')
        .option('--param <name[:type]=value>', 'a parameter (repeatable); type as xTuple writes it: QString, int, double, bool, QDate', collectParam, [])
        .option('--at <time>', 'start at this time, "YYYY-MM-DD HH:MM"')
        .action((name, o) => run((0, submit_1.submitActionCommand)(ctx(), name, o, out)));
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
        .action((name, o) => run((0, submit_1.submitReportCommand)(ctx(), name, o, out)));
    program
        .command('list')
        .description('List jobs, newest first.')
        .addOption(new commander_1.Option('--state <state>', 'only jobs in this state').choices([...inspect_1.JOB_STATES]))
        .option('--action <action>', 'only this action (e.g. Email)')
        .option('--limit <n>', 'at most this many', positiveInt('--limit'), 50)
        .option('--json', 'print JSON', false)
        .action((o) => run((0, jobs_1.listCommand)(ctx(), o, out)));
    program
        .command('show <id>')
        .description('Show one job: its row, parameters, attempts, exit status and result.')
        .option('--json', 'print JSON', false)
        .action((id, o) => run((0, jobs_1.showCommand)(ctx(), jobId(id), o.json, out)));
    program
        .command('retry <id>')
        .description('Run a finished or failed job again now, with a fresh attempt count (xTuple\'s Retry).')
        .action((id) => run((0, jobs_1.retryCommand)(ctx(), jobId(id), out)));
    program
        .command('cancel <id>')
        .description('Cancel a job that has not finished; a running one is stopped at its next heartbeat.')
        .action((id) => run((0, jobs_1.cancelCommand)(ctx(), jobId(id), out)));
    program
        .command('purge')
        .description('Delete finished jobs older than BatchManagerPurgeDays (or --days) now; the daemon also does this daily.')
        .option('--days <n>', 'age in days (default: the BatchManagerPurgeDays setting)', positiveInt('--days'))
        .action((o) => run((0, jobs_1.purgeCommand)(ctx(), o.days, out)));
    const config = program.command('config').description('Read and change the settings of the xTuple Connect screen (stored in the database).');
    config
        .command('get [name]')
        .description('Print one setting, or all: EnableBatchManager, DefaultBatchFromEmailAddress, BatchManagerPurgeDays, EmailSyncCreateContacts, ExcludeContactsMatching.')
        .option('--json', 'print JSON', false)
        .action((name, o) => run((0, config_1.configGetCommand)(ctx(), name, o.json, out)));
    config
        .command('set <name> <value>')
        .description('Change a setting; running daemons see it at once.')
        .action((name, value) => run((0, config_1.configSetCommand)(ctx(), name, value, out)));
    config
        .command('exclude <op> [pattern]')
        .description('Manage "Exclude Contacts Matching": add|remove PATTERN, or list. Patterns: bob@example.com, example.com, *@example.com, *.example.org, noreply@*.')
        .action((op, pattern) => {
        if (!['add', 'remove', 'list'].includes(op))
            throw new errors_1.ConfigError(`config exclude: "${op}" is not add, remove or list`);
        return run((0, config_1.excludeCommand)(ctx(), op, pattern, out));
    });
    return program;
}
/** Entry point of bin/xtconnect.js. Exit codes: 0 ok, 1 failure, 2 bad config or arguments; status: 0-3. */
async function main(argv) {
    let code = 0;
    const program = buildProgram(process.stdout, (c) => (code = c));
    try {
        await program.parseAsync(argv);
    }
    catch (err) {
        if (err instanceof commander_1.CommanderError) {
            code = err.exitCode === 0 ? 0 : errors_1.EXIT_CONFIG;
        }
        else if (err instanceof errors_1.ConfigError) {
            process.stderr.write(`xtconnect: ${err.message}\n`);
            code = errors_1.EXIT_CONFIG;
        }
        else {
            const hint = err.hint;
            process.stderr.write(`xtconnect: ${(0, errors_1.errorMessage)(err)}${hint ? `\n  hint: ${hint}` : ''}\n`);
            code = 1;
        }
    }
    process.exitCode = code;
    // Nothing should keep the process alive after a command; if something does (a stray socket), do not hang.
    setTimeout(() => process.exit(code), 1000).unref();
}
//# sourceMappingURL=index.js.map