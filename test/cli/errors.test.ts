import fs from 'node:fs';
import path from 'node:path';
import { writeConfigFile } from '../support/config';
import { killAll, removeTempDirs, runXt, tempDir, type RunResult } from '../support/proc';
import { freePort } from '../support/smtp';

// A mistake in the config file, the environment or the command line stops the program with exit code 2 and one
// message that names what to fix, before anything connects anywhere. Nothing here needs a database: every URL
// points at a closed port, so a command that tried to connect first would fail differently (exit 1).

let closedUrl: string;

beforeAll(async () => {
  closedUrl = `postgresql://postgres@127.0.0.1:${await freePort()}/nothing`;
});
afterEach(async () => {
  await killAll();
});
afterAll(() => {
  removeTempDirs();
});

function configFile(yaml: string): string {
  return writeConfigFile(tempDir(), yaml);
}

/** Exit 2, nothing on stdout, and stderr says `says` (a string or pattern). */
function expectUsageError(r: RunResult, says: string | RegExp): void {
  expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
  expect(r.stdout).toBe('');
  if (typeof says === 'string') expect(r.stderr).toContain(says);
  else expect(r.stderr).toMatch(says);
  expect(r.stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
}

describe('config file errors stop `xtconnect start` with exit 2 and a message naming the problem', () => {
  it('a config file that does not exist', async () => {
    const r = await runXt(['start', '--config', '/nonexistent/xtconnect.yaml']);
    expectUsageError(r, 'xtconnect: config file /nonexistent/xtconnect.yaml does not exist; fix --config');
  });

  it('a PGPORT that is no port (pg would throw where nobody catches it, and the command ended silently with exit 0)', async () => {
    for (const port of ['abc', '99999']) {
      const r = await runXt(['list'], { env: { PGPORT: port, PGHOST: '127.0.0.1', PGUSER: 'postgres', PGDATABASE: 'test' } });
      expectUsageError(r, `xtconnect: PGPORT must be a port number from 1 to 65535 (got "${port}")`);
    }
  });

  it('an empty --config is refused (it read no file at all and went on with the defaults)', async () => {
    expectUsageError(await runXt(['list', '--config', '']), 'xtconnect: --config is empty');
  });

  it('a config file named by XTCONNECT_CONFIG that does not exist', async () => {
    const r = await runXt(['start'], { env: { XTCONNECT_CONFIG: '/nonexistent/from-env.yaml' } });
    expectUsageError(r, 'config file /nonexistent/from-env.yaml does not exist; fix $XTCONNECT_CONFIG or create it from xtconnect.example.yaml');
  });

  it('invalid YAML', async () => {
    const file = configFile('daemon:\n  concurrency: [1, 2\n');
    const r = await runXt(['start', '--config', file]);
    expectUsageError(r, `xtconnect: config file ${file} is not valid YAML`);
  });

  it('a file that is not sections of key: value lines', async () => {
    const file = configFile('- just\n- a list\n');
    const r = await runXt(['start', '--config', file]);
    expectUsageError(r, `config file ${file} must hold sections of key: value lines`);
  });

  it('an unknown (misspelt) key, named with its section', async () => {
    const file = configFile('daemon:\n  concurency: 3\n');
    const r = await runXt(['start', '--config', file]);
    expectUsageError(r, `xtconnect: ${file}: unknown key "daemon.concurency" (known keys here: concurrency,`);
  });

  it('an unknown top-level key', async () => {
    const file = configFile('databse:\n  url: postgresql://x@127.0.0.1/y\n');
    const r = await runXt(['start', '--config', file]);
    expectUsageError(r, `unknown key "databse"`);
  });

  it('a wrong type', async () => {
    const file = configFile('daemon:\n  concurrency: lots\n');
    const r = await runXt(['start', '--config', file]);
    expectUsageError(r, `xtconnect: ${file}: daemon.concurrency must be a whole number from 1 to 1000 (got "lots")`);
  });

  it('a number out of range', async () => {
    const file = configFile('daemon:\n  leaseSeconds: 0\n');
    const r = await runXt(['start', '--config', file]);
    expectUsageError(r, 'daemon.leaseSeconds must be a whole number from 1 to 86400 (got 0)');
  });

  it('a value not among the choices', async () => {
    const file = configFile('smtp:\n  host: 127.0.0.1\n  security: ssl\n');
    const r = await runXt(['start', '--config', file]);
    expectUsageError(r, 'smtp.security must be one of tls, starttls, none (got "ssl")');
  });

  it('a section that is not a section', async () => {
    const file = configFile('daemon: 5\n');
    const r = await runXt(['start', '--config', file]);
    expectUsageError(r, 'daemon must be a section of key: value lines (got 5)');
  });

  it('smtp.user without smtp.password', async () => {
    const file = configFile('smtp:\n  host: 127.0.0.1\n  user: mailer\n');
    const r = await runXt(['start', '--config', file]);
    expectUsageError(r, `xtconnect: ${file}: smtp.user and smtp.password go together`);
  });

  it('a bad XTCONNECT_SMTP_PORT in the environment', async () => {
    const file = configFile('smtp:\n  host: 127.0.0.1\n');
    const r = await runXt(['start', '--config', file], { env: { XTCONNECT_SMTP_PORT: 'smtp' } });
    expectUsageError(r, 'XTCONNECT_SMTP_PORT must be a port number from 1 to 65535 (got "smtp")');
  });

  it('the same errors stop the short commands too (list); status says UNKNOWN (3) on its one line, as a monitoring plugin must', async () => {
    const file = configFile('daemon:\n  concurency: 3\n');
    expectUsageError(await runXt(['list', '--config', file]), 'unknown key "daemon.concurency"');
    const r = await runXt(['status', '--config', file]);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 3, signal: null });
    expect(r.stdout).toMatch(/^XTCONNECT UNKNOWN - .*unknown key "daemon\.concurency"/);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('command-line errors exit 2 with a message naming the problem', () => {
  let emptyConfig: string;
  beforeAll(() => {
    emptyConfig = path.join(tempDir(), 'empty.yaml');
    fs.writeFileSync(emptyConfig, '');
  });
  const xt = (...args: string[]) => runXt(['--config', emptyConfig, '--database-url', closedUrl, ...args]);

  it('status answers a bad argument with UNKNOWN (3), as monitoring plugins do, and says what is wrong', async () => {
    const r = await xt('status', '--min-daemons', 'two');
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 3, signal: null });
    // One line on stdout, which is what a monitoring system shows; nothing on stderr.
    expect(r.stdout).toMatch(/^XTCONNECT UNKNOWN - .*--min-daemons.*\n$/);
    expect(r.stderr).toBe('');
  });

  it('an unknown command', async () => {
    expectUsageError(await xt('frobnicate'), "error: unknown command 'frobnicate'");
  });

  it('an unknown option', async () => {
    expectUsageError(await xt('list', '--colour'), "error: unknown option '--colour'");
  });

  it('submit email without --to', async () => {
    expectUsageError(await xt('submit', 'email', '--subject', 's', '--body', 'b'), "error: required option '--to <addresses>' not specified");
  });

  it('submit email with a malformed --at', async () => {
    expectUsageError(await xt('submit', 'email', '--to', 'a@b.c', '--subject', 's', '--at', 'tomorrow'),
      '--at "tomorrow" must be a date and time like "2026-12-01 08:00"');
  });

  it('submit action with a malformed --param', async () => {
    expectUsageError(await xt('submit', 'action', 'ServerMaintenance', '--param', 'novalue'), '--param "novalue" must look like name=value');
  });

  it('list with a state that does not exist', async () => {
    expectUsageError(await xt('list', '--state', 'finished'), "error: option '--state <state>' argument 'finished' is invalid");
  });

  it('list --limit that is not a number', async () => {
    expectUsageError(await xt('list', '--limit', 'ten'), '--limit must be a whole number');
  });

  it('a bad --log-level', async () => {
    expectUsageError(await xt('--log-level', 'loud', 'status'), "error: option '--log-level <level>' argument 'loud' is invalid");
  });

  it('show with a job ID that is not a number', async () => {
    expectUsageError(await xt('show', 'abc'), 'a job ID is a whole number (batch_id)');
  });

  it('cancel and retry with a job ID out of range', async () => {
    expectUsageError(await xt('cancel', '99999999999'), 'a job ID is a whole number (batch_id)');
    expectUsageError(await xt('retry', '-1'), /a job ID is a whole number|unknown option '-1'/);
  });

  it('config set EnableBatchManager maybe (checked before connecting)', async () => {
    expectUsageError(await xt('config', 'set', 'EnableBatchManager', 'maybe'), 'xtconnect: EnableBatchManager must be true or false (got "maybe")');
  });

  it('config set of a setting that does not exist', async () => {
    expectUsageError(await xt('config', 'set', 'EnableBatchManger', 'true'), 'unknown setting "EnableBatchManger"; settings are EnableBatchManager,');
  });

  it('config set BatchManagerPurgeDays to something that is not a number of days', async () => {
    expectUsageError(await xt('config', 'set', 'BatchManagerPurgeDays', 'a week'), 'BatchManagerPurgeDays must be a whole number of days');
  });

  it("config exclude add 'bad pattern'", async () => {
    expectUsageError(await xt('config', 'exclude', 'add', 'bad pattern'), 'xtconnect: pattern "bad pattern" contains spaces; examples:');
  });

  it('config exclude with an operation that does not exist, or without a pattern', async () => {
    expectUsageError(await xt('config', 'exclude', 'drop', '*@example.com'), 'config exclude: "drop" is not add, remove or list');
    expectUsageError(await xt('config', 'exclude', 'add'), 'config exclude add needs a PATTERN');
  });
});
