import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { redactSecrets as redactUrl } from '../../src/secrets';
import { ConfigError } from '../../src/errors';
import { tempDir } from '../support/tempDirs';

const dir = tempDir('xtc-config-');
function file(yaml: string): string {
  const f = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(f, yaml);
  return f;
}
const env = { HOME: '/home/erp' } as NodeJS.ProcessEnv;

describe('loadConfig', () => {
  it('reads the sample file in the repo, which documents every key', () => {
    const cfg = loadConfig({ config: path.join(__dirname, '..', '..', 'xtconnect.example.yaml') }, { ...env, XDG_STATE_HOME: '/home/erp/.state' });
    expect(cfg.daemon.concurrency).toBe(10);
    expect(cfg.smtp).toBeNull();
    expect(cfg.database.embedded).toBe(true);
    expect(cfg.dataDir).toBe('/home/erp/.state/xtconnect');
    expect(cfg.outboxDir).toBe('/home/erp/.state/xtconnect/outbox');
    expect(cfg.schedules.map((s) => s.name)).toEqual(['purge']);
  });

  it('takes the database from DATABASE_URL, then PG* variables, else embedded', () => {
    expect(loadConfig({}, { ...env, DATABASE_URL: 'postgres://a@b/c' }).database).toMatchObject({ url: 'postgres://a@b/c', embedded: false });
    expect(loadConfig({}, { ...env, PGHOST: 'db' }).database).toMatchObject({ url: null, embedded: false });
    expect(loadConfig({ databaseUrl: 'postgres://x@y/z' }, { ...env, DATABASE_URL: 'postgres://a@b/c' }).database.url).toBe('postgres://x@y/z');
  });

  it('takes SMTP secrets from the environment', () => {
    const cfg = loadConfig({ config: file('smtp:\n  host: mail\n  user: u\n') }, { ...env, XTCONNECT_SMTP_PASSWORD: 's3cret' });
    expect(cfg.smtp).toMatchObject({ host: 'mail', port: 587, security: 'starttls', user: 'u', password: 's3cret' });
  });

  it('uses systemd\'s STATE_DIRECTORY for data', () => {
    expect(loadConfig({}, { ...env, STATE_DIRECTORY: '/var/lib/xtconnect' }).dataDir).toBe('/var/lib/xtconnect');
  });

  it.each([
    ['daemon:\n  concurency: 3\n', /unknown key "daemon.concurency"/],
    ['daemon:\n  concurrency: lots\n', /daemon.concurrency must be a whole number from 1 to 1000 \(got "lots"\)/],
    ['daemon:\n  concurrency: 0\n', /daemon.concurrency must be a whole number from 1 to 1000 \(got 0\)/],
    ['daemon:\n  actionConcurrency:\n    RunReport: -1\n', /daemon.actionConcurrency.RunReport must be a whole number/],
    ['daemon:\n  purgeSchedule: "every night"\n', /daemon.purgeSchedule must be a cron expression/],
    ['smtp:\n  host: mail\n  security: ssl\n', /smtp.security must be one of tls, starttls, none/],
    ['smtp:\n  host: mail\n  user: u\n', /smtp.user and smtp.password go together/],
    ['log:\n  level: loud\n', /log.level must be one of error, warn, info, debug/],
    ['daemon: [1, 2]\n', /daemon must be a section/],
    ['- just\n- a list\n', /must hold sections/],
    ['daemon:\n  concurrency: [\n', /is not valid YAML/],
  ])('refuses %p with a message naming the key', (yaml, message) => {
    const f = file(yaml);
    expect(() => loadConfig({ config: f }, env)).toThrow(ConfigError);
    expect(() => loadConfig({ config: f }, env)).toThrow(message);
  });

  it('refuses a config file that does not exist when one is named', () => {
    expect(() => loadConfig({ config: '/nonexistent/x.yaml' }, env)).toThrow(/config file \/nonexistent\/x.yaml does not exist/);
  });

  it('redacts passwords in connection strings', () => {
    expect(redactUrl('postgresql://erp:p%40ss@db:5432/erp')).toBe('postgresql://erp:***@db:5432/erp');
    expect(redactUrl('postgresql://erp@db/erp')).toBe('postgresql://erp@db/erp');
  });
});
