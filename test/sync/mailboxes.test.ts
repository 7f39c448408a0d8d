import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { parseMailboxes } from '../../src/config';
import { mailboxEnvVar } from '../../src/sync/mailboxes';
import { tempDir } from '../support/tempDirs';

const base = { name: 'sales', host: 'imap.example.com', user: 'sales@example.com', password: 'pw' };
const parse = (entries: unknown, env: NodeJS.ProcessEnv = {}) => parseMailboxes(entries, 'x.yaml', env);

describe('mailboxes: in the config file', () => {
  it('fills in the defaults: TLS on 993, INBOX, the login as the mailbox\'s own address, no after-import action', () => {
    expect(parse([base])).toEqual([{
      name: 'sales', host: 'imap.example.com', port: 993, security: 'tls', user: 'sales@example.com', password: 'pw', accessToken: null,
      folders: ['INBOX'], address: 'sales@example.com', afterImport: 'none', moveTo: null, flag: null,
      tls: { caPath: null, rejectUnauthorized: true, servername: null }, timeoutMs: 60_000, batchSize: 100, batchBytes: 16 * 1024 * 1024,
    }]);
    expect(parse(undefined)).toEqual([]);
  });

  it('reads every key', () => {
    const [mb] = parse([{ ...base, port: 1143, security: 'starttls', folders: ['INBOX', 'Support'], address: 'Orders@Example.com',
      afterImport: 'move', moveTo: 'Imported', tls: { caPath: '/etc/ssl/ca.pem', rejectUnauthorized: false, servername: 'imap.internal' },
      timeoutMs: 5000, batchSize: 20 }]);
    expect(mb).toMatchObject({ port: 1143, security: 'starttls', folders: ['INBOX', 'Support'], address: 'orders@example.com', afterImport: 'move',
      moveTo: 'Imported', tls: { caPath: '/etc/ssl/ca.pem', rejectUnauthorized: false, servername: 'imap.internal' }, timeoutMs: 5000, batchSize: 20 });
    expect(parse([{ ...base, security: 'none' }])[0]!.port).toBe(143);
    expect(parse([{ ...base, afterImport: 'flag' }])[0]!.flag).toBe('$XtImported');
    expect(parse([{ ...base, afterImport: 'flag', flag: '\\Seen' }])[0]!.flag).toBe('\\Seen');
    expect(parse([{ ...base, folders: 'Support' }])[0]!.folders).toEqual(['Support']);
  });

  it('takes secrets from the environment, which wins over the file', () => {
    expect(mailboxEnvVar('sales-in.2', 'PASSWORD')).toBe('XTCONNECT_MAILBOX_SALES_IN_2_PASSWORD');
    const { password: _p, ...noPassword } = base;
    void _p;
    expect(parse([noPassword], { XTCONNECT_MAILBOX_SALES_PASSWORD: 'from-env' })[0]!.password).toBe('from-env');
    expect(parse([base], { XTCONNECT_MAILBOX_SALES_PASSWORD: 'from-env' })[0]!.password).toBe('from-env');
    const [oauth] = parse([noPassword], { XTCONNECT_MAILBOX_SALES_ACCESSTOKEN: 'ya29.token' });
    expect(oauth).toMatchObject({ password: null, accessToken: 'ya29.token' });
  });

  const refused: Array<[unknown, string]> = [
    [[{ ...base, prot: 1 }], 'x.yaml: mailboxes[0]: unknown key "prot"'],
    [[{ ...base, name: 'has space' }], 'x.yaml: mailboxes[0].name must be a name'],
    [[base, { ...base }], 'x.yaml: mailboxes[1].name "sales" is used twice (also mailboxes[0])'],
    [[{ ...base, host: 'imaps://imap.example.com' }], 'mailboxes[0].host must be a host name'],
    [[{ ...base, port: 0 }], 'mailboxes[0].port must be a whole number from 1 to 65535 (got 0)'],
    [[{ ...base, security: 'ssl' }], 'mailboxes[0].security must be one of tls, starttls, none (got "ssl")'],
    [[{ ...base, user: '' }], 'mailboxes[0].user must be the login name'],
    [[{ name: 'sales', host: 'h', user: 'u' }], 'mailboxes[0] (sales): a mailbox needs a password or an OAuth2 accessToken (in the file, or XTCONNECT_MAILBOX_SALES_PASSWORD'],
    [[{ ...base, accessToken: 't' }], 'mailboxes[0] (sales): set a password or an accessToken, not both'],
    [[{ ...base, folders: [] }], 'mailboxes[0].folders must be a list of folder names'],
    [[{ ...base, folders: ['INBOX', 'INBOX'] }], 'mailboxes[0].folders must be a list without repeats'],
    [[{ ...base, address: 'not-an-address' }], 'mailboxes[0].address must be the mailbox\'s own email address'],
    [[{ ...base, afterImport: 'delete' }], 'mailboxes[0].afterImport must be one of none, move, flag (got "delete")'],
    [[{ ...base, afterImport: 'move' }], 'mailboxes[0].moveTo must be the folder imported messages are moved to'],
    [[{ ...base, moveTo: 'Done' }], 'mailboxes[0].moveTo (sales): applies only with afterImport: move'],
    [[{ ...base, afterImport: 'move', moveTo: 'INBOX' }], 'mailboxes[0].moveTo (sales): "INBOX" is also one of the folders read'],
    [[{ ...base, flag: 'x' }], 'mailboxes[0].flag (sales): applies only with afterImport: flag'],
    [[{ ...base, afterImport: 'flag', flag: 'two words' }], 'mailboxes[0].flag must be an IMAP flag'],
    [[{ ...base, tls: { caPath: 'ca.pem' } }], 'mailboxes[0].tls.caPath must be an absolute path'],
    [[{ ...base, tls: { verify: false } }], 'mailboxes[0].tls: unknown key "verify"'],
    [[{ ...base, tls: { rejectUnauthorized: 'no' } }], 'mailboxes[0].tls.rejectUnauthorized must be true or false'],
    [[{ ...base, timeoutMs: 10 }], 'mailboxes[0].timeoutMs must be a whole number from 1000 to 600000'],
    [{ name: 'x' }, 'x.yaml: mailboxes must be a list of entries'],
    [['sales'], 'x.yaml: mailboxes[0] must be a section'],
  ];
  it.each(refused.map(([entries, message]) => [message, entries]))('refuses with "%s"', (message, entries) => {
    expect(() => parse(entries)).toThrow(ConfigError);
    expect(() => parse(entries)).toThrow(message);
  });

  it('loadConfig reads the list into cfg.mailboxes; the example file\'s commented entry parses once uncommented', () => {
    const dir = tempDir('xtc-mailboxes-');
    const example = fs.readFileSync(path.join(__dirname, '..', '..', 'xtconnect.example.yaml'), 'utf8');
    const start = example.indexOf('# mailboxes:');
    expect(start).toBeGreaterThan(0);
    const block = example.slice(start).split('\n').filter((l) => l.startsWith('#')).map((l) => l.replace(/^# ?/, '')).join('\n');
    const file = path.join(dir, 'x.yaml');
    fs.writeFileSync(file, block);
    const cfg = loadConfig({ config: file }, { XTCONNECT_MAILBOX_SALES_PASSWORD: 'secret', XTCONNECT_MAILBOX_SUPPORT_ACCESSTOKEN: 'from-env', HOME: dir });
    expect(cfg.mailboxes.map((m) => m.name)).toEqual(['sales', 'support']);
    expect(cfg.mailboxes[0]).toMatchObject({ password: 'secret', afterImport: 'move', moveTo: 'Imported' });
    expect(cfg.mailboxes[1]).toMatchObject({ accessToken: 'from-env', afterImport: 'flag' });
  });
});
