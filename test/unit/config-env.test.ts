/**
 * The environment over the file (issue 13, item 7): XTCONNECT_LOG_LEVEL beats log.level, a level winston does not
 * know stops the program naming the variable, and a DATABASE_URL that is not a connection URL is refused naming
 * the variable before anything tries to connect. The last test runs the built program to see exit code 2.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { killAll, removeTempDirs, runXt, tempDir } from '../support/proc';

afterEach(async () => {
  await killAll();
});
afterAll(() => removeTempDirs());

function file(yaml: string): string {
  const f = path.join(tempDir(), 'xtconnect.yaml');
  fs.writeFileSync(f, yaml);
  return f;
}

describe('XTCONNECT_LOG_LEVEL', () => {
  it('overrides log.level from the file', () => {
    const f = file('log:\n  level: warn\n');
    expect(loadConfig({ config: f }, { XTCONNECT_LOG_LEVEL: 'debug' }).log.level).toBe('debug');
    expect(loadConfig({ config: f }, {}).log.level).toBe('warn');
    expect(loadConfig({ config: f }, { XTCONNECT_LOG_LEVEL: '' }).log.level).toBe('warn');
  });

  it('an unknown level is a ConfigError naming the variable and the levels', () => {
    expect(() => loadConfig({ config: file('') }, { XTCONNECT_LOG_LEVEL: 'loud' }))
      .toThrow(new ConfigError('XTCONNECT_LOG_LEVEL must be one of error, warn, info, debug (got "loud")'));
  });
});

describe('DATABASE_URL', () => {
  it.each(['postgresql://u@db.example/erp', 'postgres://u:pw@127.0.0.1:5433/erp?sslmode=require', 'postgresql:///erp?host=/var/run/postgresql'])(
    '%s is taken', (url) => {
      expect(loadConfig({ config: file('') }, { DATABASE_URL: url }).database.url).toBe(url);
    });

  it.each(['::not a url::', 'db.example:5432/erp', 'mysql://u@db/erp'])('%j is refused naming DATABASE_URL, without echoing it', (url) => {
    let err: unknown;
    try {
      loadConfig({ config: file('') }, { DATABASE_URL: url });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^DATABASE_URL must be a PostgreSQL connection URL such as postgresql:\/\/user@host:5432\/dbname/);
    expect((err as Error).message).not.toContain(url);
  });

  it('database.url in the file and --database-url are checked the same way, each named', () => {
    const f = file('database:\n  url: "not a url"\n');
    expect(() => loadConfig({ config: f }, {})).toThrow(`${f}: database.url must be a PostgreSQL connection URL`);
    expect(() => loadConfig({ config: file(''), databaseUrl: 'nope' }, {})).toThrow(/^--database-url must be a PostgreSQL connection URL/);
  });
});

describe('the program stops with exit code 2', () => {
  it.each([
    [{ XTCONNECT_LOG_LEVEL: 'loud' }, 'XTCONNECT_LOG_LEVEL must be one of error, warn, info, debug (got "loud")'],
    [{ DATABASE_URL: '::not a url::' }, 'DATABASE_URL must be a PostgreSQL connection URL'],
  ])('%j', async (env, says) => {
    const r = await runXt(['start', '--config', file('')], { env });
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
    expect(r.stderr).toContain(says);
    expect(r.stderr).not.toContain('ENOTFOUND');
  });
});
