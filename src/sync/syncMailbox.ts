import type { ImapFlow } from 'imapflow';
import type { Pool } from '../db/pool';
import type { Settings } from '../db/queries/settings';
import { errorMessage, isOutage, PermanentError, TransientError } from '../errors';
import type { Logger } from '../log';
import type { ContactPolicy } from './contacts';
import { crmCatalog, type CrmCatalog } from './crmCatalog';
import { classifyImapError, connectImap } from './imapClient';
import { importMessage, type ImportOutcome } from './importMessage';
import { describeMailbox, type Mailbox } from './mailboxes';
import { parseEmail, type ParsedEmail } from './parseMessage';
import { fetchBatches, uidSet, type FetchedMessage } from './fetchBatches';
import { readFolderState, saveFolderState } from './folderState';
import { clearFailure, MAX_FAILED_RUNS, pendingFailures, recordFailure, type FolderKey } from './failedMessages';
import type pg from 'pg';

export interface FolderResult {
  folder: string;
  uidValidity: string;
  /** The folder's UIDs were renumbered since the last run, so it was read from the start (duplicates skipped). */
  rescanned: boolean;
  imported: number;
  duplicates: number;
  lastUid: number;
  /** Messages recorded earlier as failed that this run imported. */
  recovered: number;
  /** Messages that failed in this run (after MESSAGE_TRIES tries each), recorded and passed by. */
  failed: MessageFailure[];
}

export interface MessageFailure {
  uid: number;
  subject: string | null;
  reason: string;
  /** Runs in which it has failed so far. */
  attempts: number;
  /** Failed in MAX_FAILED_RUNS runs: later runs leave it alone. */
  givenUp: boolean;
}

export interface MailboxResult {
  mailbox: string;
  /** Set when nothing was read, with the reason. */
  skipped?: string;
  folders: FolderResult[];
  contactsCreated: number;
  contactsLinked: number;
  referencesLinked: number;
  unresolvedReferences: number;
}

export interface SyncDeps {
  pool: Pool;
  log: Logger;
  signal?: AbortSignal;
  settings: Pick<Settings, 'createContacts' | 'exclusions' | 'defaultFrom'>;
  /** Called after each message's transaction has committed (progress, tests). */
  onMessage?: (m: { mailbox: string; folder: string; uid: number; outcome: ImportOutcome }) => void;
}

let contactsOffLogged = false;

/** Once per process: a database without xTuple's contact tables says so in the log, not on every run. */
function noteContactsOff(log: Logger): void {
  if (contactsOffLogged) return;
  contactsOffLogged = true;
  log.warn('email sync: this database has no xTuple contact tables (public.cntct, public.cntcteml); ' +
    'mail is imported without contact links or new contacts');
}

/** "a@b" out of "Name <a@b>" or "a@b". */
function bareAddress(text: string | null): string | null {
  if (!text) return null;
  const m = /<([^<>\s]+@[^<>\s]+)>/.exec(text) ?? /([^\s<>,;"]+@[^\s<>,;"]+)/.exec(text);
  return m ? m[1]!.toLowerCase() : null;
}

export function contactPolicy(mb: Pick<Mailbox, 'address'>, settings: SyncDeps['settings']): ContactPolicy {
  const own = new Set<string>();
  const from = bareAddress(settings.defaultFrom);
  if (from) own.add(from);
  if (mb.address) own.add(mb.address.toLowerCase());
  return { create: settings.createContacts, exclusions: settings.exclusions, own };
}

/** Carries a database failure past the IMAP error classification unchanged. */
class DatabaseStep extends Error {
  constructor(readonly original: unknown) {
    super('database step failed');
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('stopped');
}

interface FolderRun {
  mb: Mailbox;
  imap: ImapFlow;
  db: pg.PoolClient;
  catalog: CrmCatalog;
  policy: ContactPolicy | null;
  deps: SyncDeps;
  result: MailboxResult;
}

async function afterImport(run: FolderRun, uids: number[]): Promise<void> {
  const { mb, imap } = run;
  if (mb.afterImport === 'none' || uids.length === 0) return;
  // imapflow reports a refused MOVE or STORE by returning false, not by throwing.
  const ok = mb.afterImport === 'move'
    ? await imap.messageMove(uidSet(uids), mb.moveTo!, { uid: true })
    : await imap.messageFlagsAdd(uidSet(uids), [mb.flag!], { uid: true });
  if (!ok) {
    throw new TransientError(`${describeMailbox(mb)}: the server refused to ${mb.afterImport === 'move' ? `move imported messages to "${mb.moveTo}"` : `set flag ${mb.flag} on imported messages`} ` +
      `(UIDs ${uidSet(uids)}); they are imported and will not be imported again`);
  }
}

/** Messages of one batch imported at the same time, each in its own transaction on its own connection. */
const IMPORT_WINDOW = 4;

/** Tries of one message within a run before it is recorded as failed and passed by. */
export const MESSAGE_TRIES = 3;

/**
 * Whether a failed import is the message's own problem (a constraint, a function that raised, a message that cannot
 * be read), which is recorded and passed by, rather than the database's or the job's (connection lost, job
 * stopped), which ends the run as before. Conflicts (serialization, deadlock) count as the message's once its tries
 * are used up: they are retried first.
 */
function isMessageFault(err: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted) return false;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === '40001' || code === '40P01') return true;
  // A lost connection, a server shutting down or out of resources is the database's problem, not the message's.
  return !isOutage(err);
}

type Attempt = { outcome: ImportOutcome } | { reason: string };

/** One message, up to MESSAGE_TRIES times; a fault that is not the message's is thrown. */
async function importWithTries(run: FolderRun, m: FetchedMessage, parsed: ParsedEmail, folder: string, state: { uidValidity: string; lastUid: number }): Promise<Attempt> {
  let last: unknown;
  for (let t = 1; t <= MESSAGE_TRIES; t++) {
    try {
      const outcome = await importMessage(run.deps.pool, m.source, parsed, {
        catalog: run.catalog,
        contacts: run.policy,
        progress: { mailbox: run.mb.name, folder, state },
        durable: false,
      });
      return { outcome };
    } catch (err) {
      if (!isMessageFault(err, run.deps.signal)) throw err;
      last = err;
      // A short pause lets a conflicting transaction finish; a constraint fails the same way each time.
      if (t < MESSAGE_TRIES) await new Promise((r) => setTimeout(r, 50 * t));
    }
  }
  return { reason: errorMessage(last) };
}

/**
 * Imports one fetched batch, one transaction per message, up to IMPORT_WINDOW at a time: the import waits mostly on
 * the database, and a few connections keep it busy. Each message records as progress the highest UID below which
 * every message is settled (a watermark; out-of-order commits never let it pass a message still in flight), and
 * the batch ends with its last UID written durably. So after a crash at most one batch is fetched again (a slow
 * message holds the watermark back while later ones commit), and the hash makes those duplicates, never second
 * rows; nothing is skipped. A message that fails MESSAGE_TRIES times is recorded (xtconnect_emlsync_failed) and
 * counts as settled: the rest of the folder goes on, and later runs try it again. Returns the UIDs now in the
 * database (failed ones are not among them, so they are not moved or flagged).
 */
async function importBatch(run: FolderRun, folder: string, uidValidity: string, fetched: FetchedMessage[], res: FolderResult, known: Set<number>): Promise<number[]> {
  const { mb, db, deps } = run;
  const key: FolderKey = { mailbox: mb.name, folder, uidValidity };
  const done: number[] = [];
  const settled: number[] = [];
  // The next message is parsed (CPU) while earlier ones wait on the database. A message that cannot be read is
  // the message's fault: recorded like a failed import.
  const parse = (k: number): Promise<ParsedEmail | { unreadable: string }> =>
    parseEmail(fetched[k]!.source, fetched[k]!.internalDate ?? new Date()).catch((err: unknown) => ({ unreadable: `cannot be read: ${errorMessage(err)}` }));
  let next = fetched.length ? parse(0) : null;
  const inFlight = new Set<number>();
  const running = new Set<Promise<void>>();
  let failure: { err: unknown } | null = null;
  for (let k = 0; k < fetched.length && !failure && !deps.signal?.aborted; k++) {
    const m = fetched[k]!;
    const parsed = await next!;
    next = k + 1 < fetched.length ? parse(k + 1) : null;
    while (running.size >= IMPORT_WINDOW) await Promise.race(running);
    if (failure || deps.signal?.aborted) break;
    // Messages start in UID order, so everything in flight is below this one.
    const watermark = inFlight.size ? Math.min(...inFlight) - 1 : m.uid;
    inFlight.add(m.uid);
    const subject = 'unreadable' in parsed ? null : parsed.subject;
    const attempt: Promise<Attempt> = 'unreadable' in parsed
      ? Promise.resolve({ reason: parsed.unreadable })
      : importWithTries(run, m, parsed, folder, { uidValidity, lastUid: watermark });
    const task: Promise<void> = attempt.then(
      async (a) => {
        if ('reason' in a) {
          const f = await recordFailure(deps.pool, key, m.uid, a.reason, subject).catch((err: unknown) => {
            throw new DatabaseStep(err);
          });
          res.failed.push({ uid: m.uid, subject, reason: a.reason, attempts: f.attempts, givenUp: f.givenUp });
          settled.push(m.uid);
          deps.log.warn(`email sync: ${describeMailbox(mb)} folder "${folder}" UID ${m.uid}${subject !== null ? ` ("${subject}")` : ''} ` +
            `could not be imported: ${a.reason} (failed in ${f.attempts} of ${MAX_FAILED_RUNS} runs; ` +
            `${f.givenUp ? 'given up: delete its row in xtbatch.xtconnect_emlsync_failed to have it tried again' : 'passed by, tried again on the next run'})`);
          return;
        }
        const outcome = a.outcome;
        if (known.has(m.uid)) {
          await clearFailure(deps.pool, key, m.uid).catch((err: unknown) => {
            throw new DatabaseStep(err);
          });
          res.recovered++;
        }
        done.push(m.uid);
        settled.push(m.uid);
        if (outcome.duplicate) res.duplicates++;
        else res.imported++;
        run.result.contactsCreated += outcome.contactsCreated.length;
        run.result.contactsLinked += outcome.contactsLinked;
        run.result.referencesLinked += outcome.referencesLinked;
        run.result.unresolvedReferences += outcome.unresolvedReferences.length;
        for (const c of outcome.contactsCreated) deps.log.info(`email sync: created a contact for ${c}`);
        for (const u of outcome.unresolvedReferences) {
          deps.log.warn(`email sync: ${describeMailbox(mb)} folder "${folder}" UID ${m.uid} ("${subject}"): reference ${u}`);
        }
        deps.onMessage?.({ mailbox: mb.name, folder, uid: m.uid, outcome });
      },
    ).catch((err: unknown) => {
      failure ??= { err };
    }).finally(() => {
      inFlight.delete(m.uid);
      running.delete(task);
    });
    running.add(task);
  }
  await Promise.all(running);
  if (failure) {
    const err = (failure as { err: unknown }).err;
    throw err instanceof DatabaseStep ? err : new DatabaseStep(err);
  }
  throwIfAborted(deps.signal);
  settled.sort((a, b) => a - b);
  done.sort((a, b) => a - b);
  if (settled.length) {
    // A durable commit flushes the WAL, and with it every asynchronous commit before it: only now may the server be
    // told (move, flag) that these messages are safely in the database.
    const last = settled[settled.length - 1]!;
    await saveFolderState(db, mb.name, folder, { uidValidity, lastUid: last }).catch((err: unknown) => {
      throw new DatabaseStep(err);
    });
    res.lastUid = Math.max(res.lastUid, last);
  }
  return done;
}

/** Imports the new messages of one folder, batch by batch, committing progress with every message. */
async function syncFolder(run: FolderRun, folder: string): Promise<FolderResult> {
  const { mb, imap, db, deps } = run;
  const box = await imap.mailboxOpen(folder, { readOnly: mb.afterImport === 'none' }).catch((err: unknown) => {
    const e = err as { responseStatus?: string; mailboxMissing?: boolean; responseText?: string };
    // A NO or BAD to SELECT is about the folder (missing, misspelt, not ours to read); a lost connection is not.
    if (e.mailboxMissing || e.responseStatus === 'NO' || e.responseStatus === 'BAD') {
      throw new PermanentError(`${describeMailbox(mb)}: folder "${folder}" cannot be opened (${e.responseText || errorMessage(err)}); ` +
        'fix mailboxes[].folders');
    }
    throw err;
  });
  const uidValidity = String(box.uidValidity);
  const saved = await readFolderState(db, mb.name, folder);
  const rescanned = saved !== null && saved.uidValidity !== uidValidity;
  const lastUid = saved && !rescanned ? saved.lastUid : 0;
  const res: FolderResult = { folder, uidValidity, rescanned, imported: 0, duplicates: 0, lastUid, recovered: 0, failed: [] };
  if (rescanned) {
    deps.log.warn(`${describeMailbox(mb)}: folder "${folder}" has a new UIDVALIDITY (${saved!.uidValidity} → ${uidValidity}); ` +
      'reading it again from the start, messages already imported are skipped');
  }
  if (!saved || rescanned) await saveFolderState(db, mb.name, folder, { uidValidity, lastUid: 0 });
  if (box.exists === 0) return res;

  // Messages that failed in earlier runs come first (they are below lastUid), then the new ones. A recorded
  // message that has left the folder since is simply not fetched; its record stays until given up by hand.
  const known = new Set(await pendingFailures(db, { mailbox: mb.name, folder, uidValidity }).catch((err: unknown) => {
    throw new DatabaseStep(err);
  }));
  // "n:*" always includes the highest UID, even below n: hence the filter.
  const found = await imap.search({ uid: `${lastUid + 1}:*` }, { uid: true });
  const uids = [...[...known].filter((u) => u <= lastUid).sort((a, b) => a - b),
    ...(found || []).filter((u) => u > lastUid).sort((a, b) => a - b)];
  if (uids.length === 0) return res;
  const source = fetchBatches(imap, uids, mb.batchSize, mb.batchBytes);
  // The next batch is on its way from the server while this one goes into the database.
  let pending = source.next();
  try {
    for (;;) {
      const step = await pending;
      if (step.done) break;
      throwIfAborted(deps.signal);
      pending = source.next();
      pending.catch(() => undefined);
      const done = await importBatch(run, folder, uidValidity, step.value, res, known);
      await afterImport(run, done);
    }
  } finally {
    // Stopped early (error, abort): let the generator finish its fetch and end, so the connection is not left mid-command.
    await pending.then(() => source.return(undefined), () => undefined);
  }
  return res;
}

/**
 * Imports the new mail of every folder of one mailbox. Only one job at a time reads a mailbox (an advisory lock
 * held for the run); a second one returns at once with `skipped`. Errors name the mailbox (see classifyImapError).
 */
export async function syncMailbox(mb: Mailbox, deps: SyncDeps): Promise<MailboxResult> {
  const result: MailboxResult = { mailbox: mb.name, folders: [], contactsCreated: 0, contactsLinked: 0, referencesLinked: 0, unresolvedReferences: 0 };
  const catalog = await crmCatalog(deps.pool);
  if (!catalog.contacts) noteContactsOff(deps.log);
  const policy = catalog.contacts ? contactPolicy(mb, deps.settings) : null;

  const db = await deps.pool.connect();
  let locked = false;
  try {
    const lock = await db.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext('xtconnect.emailsync'), hashtext($1)) AS ok`, [mb.name]);
    locked = Boolean(lock.rows[0]?.ok);
    if (!locked) {
      result.skipped = 'another job is importing this mailbox right now';
      deps.log.info(`email sync: ${describeMailbox(mb)}: ${result.skipped}`);
      return result;
    }
    throwIfAborted(deps.signal);
    const imap = await connectImap(mb, deps.log);
    // Stopping a job (timeout, cancel, shutdown) must not wait for a slow server to answer.
    const onAbort = (): void => imap.close();
    deps.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (mb.afterImport === 'move') {
        // imapflow answers a folder that does not exist with false, or an error, depending on the server's reply.
        const problem = await imap.status(mb.moveTo!, { messages: true }).then(
          (st) => (st ? null : 'the server has no such folder'),
          (err: unknown) => (err as { responseText?: string }).responseText || errorMessage(err),
        );
        if (problem) {
          throw new PermanentError(`${describeMailbox(mb)}: moveTo folder "${mb.moveTo}" cannot be used (${problem}); ` +
            'create it on the server or fix moveTo');
        }
      }
      const run: FolderRun = { mb, imap, db, catalog, policy, deps, result };
      for (const folder of mb.folders) result.folders.push(await syncFolder(run, folder));
      await imap.logout().catch(() => undefined);
    } catch (err) {
      throwIfAborted(deps.signal);
      // A database error is the database's, not the mailbox's: it keeps its own message and retry rules.
      if (err instanceof DatabaseStep) throw err.original;
      throw classifyImapError(mb, err);
    } finally {
      deps.signal?.removeEventListener('abort', onAbort);
      imap.close();
    }
    return result;
  } finally {
    let broken = false;
    if (locked) {
      await db.query(`SELECT pg_advisory_unlock(hashtext('xtconnect.emailsync'), hashtext($1))`, [mb.name]).catch(() => {
        broken = true;
      });
    }
    // A connection that could not unlock is closed instead of pooled: ending the session frees the lock.
    db.release(broken || undefined);
  }
}
