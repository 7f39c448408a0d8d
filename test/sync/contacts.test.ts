import { addExclusion, readSettings, writeSetting } from '../../src/db/queries/settings';
import { splitName } from '../../src/sync/contacts';
import { findReferences } from '../../src/sync/references';
import { syncMailbox, type SyncDeps } from '../../src/sync/syncMailbox';
import { captureLogger } from '../handlers/helpers';
import { databaseSuite } from '../support/suite';
import { startImap, type TestImap } from './imapServer';
import { contactEmails, crmFixture, emlBySubject, linksOf, mailboxFor, plain, RESET_SQL, settings } from './helpers';

const suite = databaseSuite(RESET_SQL + ` TRUNCATE public.cohead, public.quhead, public.incdt, public.prj, public.pohead, public.crmacct CASCADE;`);
let imap: TestImap;

beforeAll(async () => {
  await suite.db.pool.query(crmFixture());
});
beforeEach(async () => {
  imap = await startImap();
  suite.servers.push(imap);
});

function deps(over: Partial<SyncDeps> = {}): SyncDeps {
  return { pool: suite.db.pool, log: captureLogger().log, settings: settings(), ...over };
}

async function contact(first: string, last: string, email: string, active = true): Promise<number> {
  const { rows } = await suite.db.pool.query<{ id: number }>(
    `INSERT INTO public.cntct (cntct_number, cntct_first_name, cntct_last_name, cntct_email, cntct_active)
     VALUES ('C' || nextval('public.cntct_number_seq'), $1, $2, $3, $4) RETURNING cntct_id AS id`,
    [first, last, email, active],
  );
  return rows[0]!.id;
}

async function contactByEmail(email: string): Promise<{ id: number; first: string; last: string; number: string } | undefined> {
  const { rows } = await suite.db.pool.query(
    `SELECT c.cntct_id AS id, c.cntct_first_name AS first, c.cntct_last_name AS last, c.cntct_number AS number
       FROM public.cntct c JOIN public.cntcteml e ON e.cntcteml_cntct_id = c.cntct_id WHERE lower(e.cntcteml_email) = lower($1)`,
    [email],
  );
  return rows[0];
}

describe('contacts', () => {
  it('an unknown sender becomes a contact (name split, number from fetchNextNumber, one cntcteml row) linked as type T', async () => {
    imap.add('INBOX', plain({ from: 'Alice Mary Buyer <Alice@Customer.example>', to: 'sync@example.net', subject: 'new' }));
    const r = await syncMailbox(mailboxFor(imap), deps());
    expect(r.contactsCreated).toBe(1);
    const c = await contactByEmail('alice@customer.example');
    expect(c).toMatchObject({ first: 'Alice Mary', last: 'Buyer', number: expect.stringMatching(/^\d+$/) });
    expect(await contactEmails(suite.db)).toEqual(['alice@customer.example']);
    const row = await emlBySubject(suite.db, 'new');
    expect(await linksOf(suite.db, row.eml_id)).toEqual([`T:${c!.id}`]);
  });

  it('an existing contact is matched without regard to case, and no second contact is made', async () => {
    const id = await contact('Bob', 'Vendor', 'bob@Supplier.example');
    imap.add('INBOX', plain({ from: 'BOB <BOB@SUPPLIER.EXAMPLE>', to: 'sync@example.net', subject: 'match' }));
    const r = await syncMailbox(mailboxFor(imap), deps());
    expect(r).toMatchObject({ contactsCreated: 0, contactsLinked: 1 });
    expect(await linksOf(suite.db, (await emlBySubject(suite.db, 'match')).eml_id)).toEqual([`T:${id}`]);
    expect((await suite.db.pool.query(`SELECT count(*)::int AS n FROM public.cntct`)).rows[0].n).toBe(1);
  });

  it('the same new address in two messages makes one contact, linked to both', async () => {
    imap.add('INBOX', plain({ from: 'Dora <dora@new.example>', subject: 'd1' }));
    imap.add('INBOX', plain({ from: 'Dora D. <DORA@new.example>', subject: 'd2' }));
    await syncMailbox(mailboxFor(imap), deps());
    const c = await contactByEmail('dora@new.example');
    expect(await linksOf(suite.db, (await emlBySubject(suite.db, 'd1')).eml_id)).toEqual([`T:${c!.id}`]);
    expect(await linksOf(suite.db, (await emlBySubject(suite.db, 'd2')).eml_id)).toEqual([`T:${c!.id}`]);
  });

  it.each([
    ['bob@example.com', 'bob@example.com', 'rob@example.com'],
    ['example.com', 'anyone@example.com', 'x@mail.example.com'],
    ['*@example.com', 'someone@example.com', 'someone@example.net'],
    ['noreply@*', 'noreply@shop.example', 'reply@shop.example'],
    ['*.example.org', 'news@mail.example.org', 'news@example.org'],
  ])('exclusion %s blocks %s but not %s; both messages are imported', async (pattern, blocked, allowed) => {
    await addExclusion(suite.db.pool, pattern);
    const s = await readSettings(suite.db.pool);
    imap.add('INBOX', plain({ from: blocked, to: 'sync@example.net', subject: 'from blocked' }));
    imap.add('INBOX', plain({ from: allowed, to: 'sync@example.net', subject: 'from allowed' }));
    const r = await syncMailbox(mailboxFor(imap), deps({ settings: { ...settings(), exclusions: s.exclusions } }));
    expect(r.folders[0]!.imported).toBe(2);
    expect(await contactEmails(suite.db)).toEqual([allowed]);
    expect(await linksOf(suite.db, (await emlBySubject(suite.db, 'from blocked')).eml_id)).toEqual([]);
  });

  it('an excluded address that already has a contact is still linked (exclusion only stops creating)', async () => {
    const id = await contact('News', 'Letter', 'news@lists.example');
    imap.add('INBOX', plain({ from: 'news@lists.example', subject: 'newsletter' }));
    await syncMailbox(mailboxFor(imap), deps({ settings: settings({ exclusions: ['lists.example'] }) }));
    expect(await linksOf(suite.db, (await emlBySubject(suite.db, 'newsletter')).eml_id)).toEqual([`T:${id}`]);
  });

  it('our own From address and the mailbox\'s address never become contacts', async () => {
    imap.add('INBOX', plain({ from: 'ERP <ERP@ourco.example>', to: 'Sales <SYNC@example.net>, Eve <eve@customer.example>', subject: 'own' }));
    await syncMailbox(mailboxFor(imap), deps({ settings: settings({ defaultFrom: 'Batch <erp@ourco.example>' }) }));
    expect(await contactEmails(suite.db)).toEqual(['eve@customer.example']);
  });

  it('a mailbox address set in the config (not the login) is ours too', async () => {
    imap.add('INBOX', plain({ from: 'Fay <fay@customer.example>', to: 'orders@ourco.example', subject: 'orders' }));
    await syncMailbox(mailboxFor(imap, { address: 'orders@ourco.example' }), deps());
    expect(await contactEmails(suite.db)).toEqual(['fay@customer.example']);
  });

  it('with EmailSyncCreateContacts off no contact is made, existing ones are linked, and the mail is imported', async () => {
    await writeSetting(suite.db.pool, 'EmailSyncCreateContacts', 'f');
    const id = await contact('Known', 'Person', 'known@customer.example');
    imap.add('INBOX', plain({ from: 'Stranger <stranger@else.example>', cc: 'known@customer.example', subject: 'off' }));
    const s = await readSettings(suite.db.pool);
    expect(s.createContacts).toBe(false);
    await syncMailbox(mailboxFor(imap), deps({ settings: settings({ createContacts: s.createContacts }) }));
    expect(await contactEmails(suite.db)).toEqual(['known@customer.example']);
    expect(await linksOf(suite.db, (await emlBySubject(suite.db, 'off')).eml_id)).toEqual([`T:${id}`]);
  });

  it.each([
    ['Smith, Bob', 'b@x.example', 'Bob', 'Smith'],
    ['"Bob Smith"', 'b@x.example', 'Bob', 'Smith'],
    ['Cher', 'c@x.example', '', 'Cher'],
    ['', 'jdoe@x.example', '', 'jdoe'],
    ['jdoe@x.example', 'jdoe@x.example', '', 'jdoe'],
  ])('splitName(%p, %p) gives first name %p, last name %p', (display, address, first, last) => {
    expect(splitName(display, address)).toEqual({ first, last });
  });
});

describe('references', () => {
  it('finds each [xtref:TYPE-NUMBER] once, in subject and body', () => {
    expect(findReferences('Re: order [xtref:S-012345]', 'see [XTREF:q-77] and [xtref:S-012345], not [xtref:S-] or xtref:S-1'))
      .toEqual([{ code: 'S', number: '012345', text: '[xtref:S-012345]' }, { code: 'Q', number: '77', text: '[XTREF:q-77]' }]);
  });

  it('links sales orders, quotes, incidents, projects, accounts, contacts and POs; logs what links to nothing', async () => {
    const db = suite.db.pool;
    const id = async (sql: string): Promise<number> => (await db.query(sql)).rows[0].id;
    const so = await id(`INSERT INTO public.cohead (cohead_number) VALUES ('012345') RETURNING cohead_id AS id`);
    const qu = await id(`INSERT INTO public.quhead (quhead_number) VALUES ('Q-77') RETURNING quhead_id AS id`);
    const inc = await id(`INSERT INTO public.incdt (incdt_number) VALUES (42) RETURNING incdt_id AS id`);
    const prj = await id(`INSERT INTO public.prj (prj_number) VALUES ('ROLLOUT') RETURNING prj_id AS id`);
    const acct = await id(`INSERT INTO public.crmacct (crmacct_number) VALUES ('ACME') RETURNING crmacct_id AS id`);
    const po = await id(`INSERT INTO public.pohead (pohead_number) VALUES ('PO9') RETURNING pohead_id AS id`);
    const cn = await contact('Ref', 'Erenced', 'ref@customer.example');
    const cnNumber = (await db.query(`SELECT cntct_number FROM public.cntct WHERE cntct_id = $1`, [cn])).rows[0].cntct_number;
    imap.add('INBOX', plain({
      from: 'nobody@customer.example',
      subject: 'Re: your order [xtref:S-012345]',
      body: `Quote [xtref:Q-Q-77], incident [xtref:INCDT-0042], project [xtref:J-ROLLOUT], account [xtref:CRMA-ACME],\r\n` +
        `contact [xtref:T-${cnNumber}], purchase order [xtref:PO-PO9].\r\nBroken: [xtref:S-999999] [xtref:ZZ-1] [xtref:I-60096] [xtref:INCDT-abc]`,
    }));
    const { log, lines } = captureLogger();
    const r = await syncMailbox(mailboxFor(imap), deps({ log, settings: settings({ createContacts: false }) }));
    expect(r).toMatchObject({ referencesLinked: 7, unresolvedReferences: 4 });
    const row = await emlBySubject(suite.db, 'Re: your order [xtref:S-012345]');
    expect((await linksOf(suite.db, row.eml_id)).sort()).toEqual(
      [`S:${so}`, `Q:${qu}`, `INCDT:${inc}`, `J:${prj}`, `CRMA:${acct}`, `T:${cn}`, `P:${po}`].sort());
    const log1 = lines.join('');
    expect(log1).toContain('[xtref:S-999999]: no sales order has number 999999');
    expect(log1).toContain('[xtref:ZZ-1]: \\"ZZ\\" is not a document type this database has');
    expect(log1).toContain('[xtref:I-60096]: invoices have no association type in xtbatch.emlassc');
    expect(log1).toContain('[xtref:INCDT-abc]: incident numbers are whole numbers');
    expect(row.eml_status).toBe('O');
  });
});
