import { syncMailbox } from '../../src/sync/syncMailbox';
import { captureLogger } from '../handlers/helpers';
import { databaseSuite } from '../support/suite';
import { startImap, type TestImap } from './imapServer';
import { addressesOf, emlBySubject, linksOf, mailboxFor, plain, RESET_SQL, settings } from './helpers';

// This file's database is the plain migrated one: no xTuple contact tables. Its own file, because "once per process"
// is remembered for the whole module registry of a test file.
const suite = databaseSuite(RESET_SQL);
let imap: TestImap;

beforeEach(async () => {
  imap = await startImap();
  suite.servers.push(imap);
});

describe('a database without xTuple\'s contact tables', () => {
  it('imports mail with its addresses, links nothing, and says once per process that contacts are off', async () => {
    const { log, lines } = captureLogger();
    imap.add('INBOX', plain({ from: 'Ann <ann@customer.example>', subject: 'first [xtref:S-1]' }));
    const r1 = await syncMailbox(mailboxFor(imap), { pool: suite.db.pool, log, settings: settings() });
    expect(r1).toMatchObject({ contactsCreated: 0, contactsLinked: 0, referencesLinked: 0, unresolvedReferences: 1 });
    imap.add('INBOX', plain({ from: 'Ben <ben@customer.example>', subject: 'second' }));
    await syncMailbox(mailboxFor(imap), { pool: suite.db.pool, log, settings: settings() });
    await syncMailbox(mailboxFor(imap, { name: 'other' }), { pool: suite.db.pool, log, settings: settings() });

    const row = await emlBySubject(suite.db, 'first [xtref:S-1]');
    expect(row.eml_status).toBe('O');
    expect(await addressesOf(suite.db, row.eml_id)).toEqual(['FROM ann@customer.example (Ann)', 'TO sync@example.net (Sales)']);
    expect(await linksOf(suite.db, row.eml_id)).toEqual([]);
    expect(lines.filter((l) => l.includes('no xTuple contact tables'))).toHaveLength(1);
    expect(lines.join('')).toContain('[xtref:S-1]: \\"S\\" is not a document type this database has');
  });
});
