/**
 * IMAP over TLS through a private CA: hoodiecrow-imap speaking imaps with certificates made by openssl
 * (test/handlers/pki.ts). The mailbox's tls.caPath makes the server trusted; certificate failures are permanent
 * and name the reason and the key, as for SMTP and FTPS.
 */
import { syncMailbox, type SyncDeps } from '../../src/sync/syncMailbox';
import { captureLogger } from '../handlers/helpers';
import { makePki, type ServerCert, type TestPki } from '../handlers/pki';
import { databaseSuite } from '../support/suite';
import { startImap, type TestImap } from './imapServer';
import { mailboxFor, plain, RESET_SQL, settings, subjects } from './helpers';

const suite = databaseSuite(RESET_SQL);
let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});

async function imaps(cert: ServerCert): Promise<TestImap> {
  const imap = await startImap({ tls: { key: cert.key, cert: cert.cert } });
  suite.servers.push(imap);
  return imap;
}

function deps(): SyncDeps {
  return { pool: suite.db.pool, log: captureLogger().log, settings: settings({ createContacts: false }) };
}

describe('IMAP with a private CA (mailboxes[].tls)', () => {
  it('tls.caPath: the CA vouches for the server and the mail is imported', async () => {
    const imap = await imaps(pki.good);
    imap.add('INBOX', plain({ subject: 'over tls' }));
    const r = await syncMailbox(mailboxFor(imap, { security: 'tls', tls: { caPath: pki.caPath } }), deps());
    expect(r.folders[0]).toMatchObject({ imported: 1 });
    expect(await subjects(suite.db)).toEqual(['over tls']);
  });

  it.each<[string, () => ServerCert, Record<string, unknown>, RegExp]>([
    ['an unknown CA', () => pki.good, {}, /: certificate not trusted \(signed by an unknown CA\); set mailboxes\[sales\]\.tls\.caPath to the CA file/],
    ['another host name', () => pki.otherName, { caPath: 'CA' }, /: certificate does not match the host name; set mailboxes\[sales\]\.tls\.servername/],
    ['an expired certificate', () => pki.expired, { caPath: 'CA' }, /: certificate expired;/],
  ])('%s fails for good, naming the mailbox and the reason', async (_what, cert, tls, says) => {
    const imap = await imaps(cert());
    const mb = mailboxFor(imap, { security: 'tls', tls: tls.caPath ? { caPath: pki.caPath } : undefined });
    const err = await syncMailbox(mb, deps()).then(() => null, (e: Error) => e);
    expect(err).toMatchObject({ name: 'PermanentError' });
    expect(err!.message).toMatch(/^mailbox "sales" \(imaps:\/\/sync@example\.net@127\.0\.0\.1:\d+\): /);
    expect(err!.message).toMatch(says);
  });
});
