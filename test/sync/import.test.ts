import crypto from 'node:crypto';
import { syncMailbox, type SyncDeps } from '../../src/sync/syncMailbox';
import { captureLogger } from '../handlers/helpers';
import { databaseSuite } from '../support/suite';
import { startImap, type TestImap } from './imapServer';
import { addressesOf, crmFixture, emlBySubject, emlRows, htmlOnly, latin1, mailboxFor, multipart, plain, RESET_SQL, settings, subjects } from './helpers';

const suite = databaseSuite(RESET_SQL);
let imap: TestImap;

beforeAll(async () => {
  await suite.db.pool.query(crmFixture());
});
beforeEach(async () => {
  imap = await startImap({ folders: ['Processed', 'Support'] });
  suite.servers.push(imap);
});

function deps(over: Partial<SyncDeps> = {}): SyncDeps {
  return { pool: suite.db.pool, log: captureLogger().log, settings: settings(), ...over };
}

describe('email sync imports mail as xTuple does', () => {
  it('a plain message: date, subject, body, raw bytes, SHA-1 hash, status O and one emladdr per address', async () => {
    const raw = plain({ from: '"Buyer, Alice" <alice@customer.example>', to: 'sync@example.net, Bob <bob@ourco.example>', cc: 'carol@customer.example', subject: 'Order question' });
    imap.add('INBOX', raw);
    const r = await syncMailbox(mailboxFor(imap), deps());
    expect(r.folders).toEqual([expect.objectContaining({ folder: 'INBOX', imported: 1, duplicates: 0, rescanned: false })]);
    const row = await emlBySubject(suite.db, 'Order question');
    expect(row.eml_status).toBe('O');
    expect(row.eml_msg.equals(raw)).toBe(true);
    expect(row.eml_hash.equals(crypto.createHash('sha1').update(raw).digest())).toBe(true);
    expect(row.eml_body.trim()).toMatch(/^Body of message \d+\.$/);
    expect(new Date(row.eml_date).toISOString()).toBe('2026-11-03T09:15:00.000Z');
    expect(await addressesOf(suite.db, row.eml_id)).toEqual([
      'FROM alice@customer.example (Buyer, Alice)',
      'TO sync@example.net',
      'TO bob@ourco.example (Bob)',
      'CC carol@customer.example',
    ]);
  });

  it('multipart with an attachment: the text part is the body, the attachment stays in the raw message', async () => {
    const pdf = crypto.randomBytes(50_000);
    const raw = multipart(pdf, { subject: 'PO attached', body: 'See the attached order.' });
    imap.add('INBOX', raw);
    await syncMailbox(mailboxFor(imap), deps());
    const row = await emlBySubject(suite.db, 'PO attached');
    expect(row.eml_body.trim()).toBe('See the attached order.');
    expect(row.eml_msg.equals(raw)).toBe(true);
    expect(row.eml_msg.toString('latin1')).toContain(pdf.toString('base64').slice(0, 76));
  });

  it('HTML-only mail gets a readable text body', async () => {
    imap.add('INBOX', htmlOnly('<html><body><p>Dear <b>sales</b>,</p><p>please call me.</p><style>p{color:red}</style></body></html>', { subject: 'html only' }));
    await syncMailbox(mailboxFor(imap), deps());
    const row = await emlBySubject(suite.db, 'html only');
    expect(row.eml_body).toContain('Dear sales,');
    expect(row.eml_body).toContain('please call me.');
    expect(row.eml_body).not.toMatch(/<[a-z]/i);
  });

  it('ISO-8859-1: 8-bit body and encoded-word headers are decoded', async () => {
    imap.add('INBOX', latin1());
    await syncMailbox(mailboxFor(imap), deps());
    const row = await emlBySubject(suite.db, 'Bestellung für Büro');
    expect(row.eml_body.trim()).toBe('Grüße aus Köln, café crème');
    expect(await addressesOf(suite.db, row.eml_id)).toContain('FROM rene@lieferant.example (René Müller)');
  });

  it('the same message twice (two folders) is one row; a second run fetches nothing', async () => {
    const raw = plain({ subject: 'twice' });
    imap.add('INBOX', raw);
    imap.add('Support', raw);
    const mb = mailboxFor(imap, { folders: ['INBOX', 'Support'] });
    const first = await syncMailbox(mb, deps());
    expect(first.folders.map((f) => [f.folder, f.imported, f.duplicates])).toEqual([['INBOX', 1, 0], ['Support', 0, 1]]);
    const seen: number[] = [];
    const again = await syncMailbox(mb, deps({ onMessage: (m) => seen.push(m.uid) }));
    expect(again.folders.map((f) => [f.imported, f.duplicates])).toEqual([[0, 0], [0, 0]]);
    expect(seen).toEqual([]);
    expect((await subjects(suite.db))).toEqual(['twice']);
  });

  it('stopped in the middle of a folder, the next run neither duplicates nor skips', async () => {
    for (let i = 1; i <= 10; i++) imap.add('INBOX', plain({ subject: `m${i}` }));
    const mb = mailboxFor(imap, { batchSize: 8 });
    const stop = new AbortController();
    const firstRun: number[] = [];
    await expect(syncMailbox(mb, deps({
      signal: stop.signal,
      onMessage: (m) => {
        firstRun.push(m.uid);
        if (firstRun.length === 3) stop.abort(new Error('job stopped'));
      },
    }))).rejects.toThrow('job stopped');
    // Messages already on their way to the database when the stop came are finished, never torn.
    const committed = (await subjects(suite.db));
    const j = committed.length;
    expect(j).toBeGreaterThanOrEqual(3);
    expect(j).toBeLessThan(10);
    expect(committed).toEqual(Array.from({ length: j }, (_, i) => `m${i + 1}`));
    const state = await suite.db.pool.query(`SELECT emlsync_folder_last_uid::int AS u FROM xtbatch.emlsync_folder`);
    const saved = state.rows[0].u as number;
    expect(saved).toBeLessThanOrEqual(j);

    const secondRun: number[] = [];
    const r = await syncMailbox(mb, deps({ onMessage: (m) => secondRun.push(m.uid) }));
    // The run starts after the saved progress: what was committed beyond it comes again as a duplicate.
    expect(secondRun.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 - saved }, (_, i) => saved + i + 1));
    expect(r.folders[0]).toMatchObject({ imported: 10 - j, duplicates: j - saved, lastUid: 10 });
    // Progress is a watermark below the oldest message still in flight, so one slow message holds it back while
    // later ones commit: what comes again is bounded by the batch (8), whose end is always saved, not by the window.
    expect(j - saved).toBeLessThanOrEqual(8);
    expect((await subjects(suite.db))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
  });

  it('a new UIDVALIDITY re-scans the folder without importing anything twice', async () => {
    for (let i = 1; i <= 3; i++) imap.add('INBOX', plain({ subject: `old${i}` }));
    const mb = mailboxFor(imap);
    await syncMailbox(mb, deps());
    imap.renumber('INBOX', 2000);
    imap.add('INBOX', plain({ subject: 'new after renumbering' }));
    const { log, lines } = captureLogger();
    const r = await syncMailbox(mb, deps({ log }));
    expect(r.folders[0]).toMatchObject({ uidValidity: '2000', rescanned: true, imported: 1, duplicates: 3, lastUid: 4 });
    expect(lines.join('')).toContain('new UIDVALIDITY (1000 → 2000)');
    expect((await subjects(suite.db))).toEqual(['new after renumbering', 'old1', 'old2', 'old3']);
  });

  it('a 20 MB message is imported whole', async () => {
    const raw = multipart(crypto.randomBytes(15 * 1024 * 1024), { subject: 'big scan' });
    expect(raw.length).toBeGreaterThan(20_000_000);
    imap.add('INBOX', raw);
    imap.add('INBOX', plain({ subject: 'after the big one' }));
    const r = await syncMailbox(mailboxFor(imap), deps());
    expect(r.folders[0]).toMatchObject({ imported: 2 });
    const row = await emlBySubject(suite.db, 'big scan');
    expect(row.eml_msg.length).toBe(raw.length);
    expect(row.eml_hash.equals(crypto.createHash('sha1').update(raw).digest())).toBe(true);
  }, 120_000);

  it('afterImport move: imported messages leave the folder for moveTo', async () => {
    for (let i = 1; i <= 5; i++) imap.add('INBOX', plain({ subject: `mv${i}` }));
    const r = await syncMailbox(mailboxFor(imap, { afterImport: 'move', moveTo: 'Processed', batchSize: 2 }), deps());
    expect(r.folders[0]).toMatchObject({ imported: 5 });
    expect(imap.list('INBOX')).toEqual([]);
    expect(imap.list('Processed').map((m) => m.raw.toString('utf8').match(/Subject: (\S+)/)![1])).toEqual(['mv1', 'mv2', 'mv3', 'mv4', 'mv5']);
    // Mail arriving later is imported and moved in turn.
    imap.add('INBOX', plain({ subject: 'mv6' }));
    await syncMailbox(mailboxFor(imap, { afterImport: 'move', moveTo: 'Processed' }), deps());
    expect(imap.list('INBOX')).toEqual([]);
    expect((await emlRows(suite.db)).length).toBe(6);
  });

  it('afterImport flag: imported messages carry the flag and stay where they are', async () => {
    imap.add('INBOX', plain({ subject: 'fl1' }));
    imap.add('INBOX', plain({ subject: 'fl2' }), ['\\Seen']);
    await syncMailbox(mailboxFor(imap, { afterImport: 'flag', flag: '$XtImported' }), deps());
    expect(imap.list('INBOX').map((m) => m.flags.sort())).toEqual([['$XtImported'], ['$XtImported', '\\Seen']]);
  });

  it('afterImport move to a folder the server lacks fails for good, naming the mailbox and moveTo', async () => {
    imap.add('INBOX', plain({ subject: 'nowhere to go' }));
    await expect(syncMailbox(mailboxFor(imap, { afterImport: 'move', moveTo: 'NoSuchFolder' }), deps()))
      .rejects.toMatchObject({ name: 'PermanentError', message: expect.stringContaining('mailbox "sales"') });
    await expect(syncMailbox(mailboxFor(imap, { afterImport: 'move', moveTo: 'NoSuchFolder' }), deps()))
      .rejects.toThrow('moveTo folder "NoSuchFolder" cannot be used');
    expect(await emlRows(suite.db)).toEqual([]);
  });

  it('a folder the server lacks fails for good, naming the mailbox and the folder; folders before it stay imported', async () => {
    imap.add('INBOX', plain({ subject: 'before the missing folder' }));
    await expect(syncMailbox(mailboxFor(imap, { folders: ['INBOX', 'Nope'] }), deps())).rejects.toMatchObject({
      name: 'PermanentError',
      message: expect.stringMatching(/mailbox "sales" .*folder "Nope"/),
    });
    expect((await subjects(suite.db))).toEqual(['before the missing folder']);
  });

  it('a wrong password fails for good and names the mailbox and the environment variable', async () => {
    await expect(syncMailbox(mailboxFor(imap, { password: 'wrong' }), deps())).rejects.toMatchObject({
      name: 'PermanentError',
      message: expect.stringMatching(/mailbox "sales" .*refused the login.*XTCONNECT_MAILBOX_SALES_PASSWORD/),
    });
  });

  it('two runs of the same mailbox at once: the second steps aside', async () => {
    for (let i = 1; i <= 20; i++) imap.add('INBOX', plain({ subject: `c${i}` }));
    const mb = mailboxFor(imap, { batchSize: 2 });
    const results = await Promise.all([syncMailbox(mb, deps()), syncMailbox(mb, deps())]);
    const skipped = results.filter((r) => r.skipped);
    const ran = results.filter((r) => !r.skipped);
    // Usually one steps aside; if the first finished before the second started, both ran and the second found nothing.
    expect(ran.reduce((n, r) => n + (r.folders[0]?.imported ?? 0), 0)).toBe(20);
    expect(skipped.length + ran.length).toBe(2);
    expect((await emlRows(suite.db)).length).toBe(20);
  });
});
