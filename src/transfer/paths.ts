import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { JobInputError, PermanentError, TransientError } from '../errors';
import type { Logger } from '../log';

/**
 * How files move without anyone seeing half of one, and without a name from a server deciding where a file lands.
 * The protocol modules (ftp.ts, sftp.ts) only open a RemoteSession; the steps below are the same for both.
 */

export interface RemoteEntry {
  name: string;
  /** NaN when the listing did not say. */
  size: number;
  kind: 'file' | 'dir' | 'link' | 'other';
}

/**
 * One logged-in connection, working in the endpoint's remote folder. Paths are relative to that folder, or
 * absolute on the server. Every method rejects with PermanentError or TransientError (already classified).
 */
export interface RemoteSession {
  /** For messages: endpoint name, protocol, host, port, folder. */
  readonly where: string;
  list(): Promise<RemoteEntry[]>;
  /** The size of a file, or null when there is no file of that name. */
  size(remotePath: string): Promise<number | null>;
  get(remotePath: string, localPath: string): Promise<void>;
  put(localPath: string, remotePath: string): Promise<void>;
  /** With replace, an existing `to` is replaced; without, the caller has made sure there is none. */
  rename(from: string, to: string, opts: { replace: boolean }): Promise<void>;
  remove(remotePath: string): Promise<void>;
  /** Whether a folder of that name exists (relative to the remote folder, or absolute). */
  isFolder(remotePath: string): Promise<boolean>;
  /** Ends the connection; never rejects. */
  close(): Promise<void>;
}

/** Why a name from a server's listing cannot be used as a file name in the inbox, or null when it can. */
export function unsafeNameReason(name: string): string | null {
  if (name === '') return 'is empty';
  if (name.includes('\0')) return 'contains a NUL character';
  if (name.startsWith('/') || name.startsWith('\\')) return 'is an absolute path';
  if (name.includes('/') || name.includes('\\')) return 'contains a path separator ("/" or "\\")';
  if (name === '.' || name === '..') return 'is a folder reference ("." or "..")';
  // CR/LF in a name would end the FTP command that names it (RETR x\r\nDELE y); other control characters have
  // no business in a file name either.
  if (/[\x00-\x1f\x7f]/.test(name)) return 'contains a control character';
  return null;
}

/**
 * Throws JobInputError naming the file when a remote name could escape the folder it is joined to. Called for
 * every name of a listing before anything is downloaded, so a hostile or broken server gets nothing written.
 */
export function checkRemoteName(batchId: number, name: string, where: string, dir?: string): void {
  const reason = unsafeNameReason(name);
  if (reason) {
    throw new JobInputError(batchId, `remote file name ${JSON.stringify(name)}`,
      `(listed by ${where}) ${reason}: a downloaded file may only land directly in the inbox, so nothing was downloaded`);
  }
  if (dir) {
    // Belt and braces: whatever the checks above missed, the joined path must still be inside `dir`.
    const full = path.resolve(dir, name);
    if (path.dirname(full) !== path.resolve(dir)) {
      throw new JobInputError(batchId, `remote file name ${JSON.stringify(name)}`, `(listed by ${where}) would be written outside ${dir}`);
    }
  }
}

/** A remote name given by a job (upload's remoteName): a plain file name, checked like a listing's. */
export function checkTargetName(batchId: number, field: string, name: string): void {
  const reason = unsafeNameReason(name);
  if (reason) throw new JobInputError(batchId, field, `${JSON.stringify(name)} ${reason}: give a plain file name (the folder comes from the endpoint or the remoteDir parameter)`);
}

const TEMP_RE = /^\..+\.xtc-\d+\.part$|^\.xtc-\d+-[0-9a-f]{16}\.part$/;

/**
 * The temporary name a file has while it is being written, next to its final name: hidden (leading dot, so
 * globs like "*" and most pick-up scripts pass it by) and the same for every attempt of the job, so a retry
 * overwrites the previous attempt's leftover instead of adding another.
 */
export function tempName(name: string, batchId: number): string {
  const t = `.${name}.xtc-${batchId}.part`;
  if (Buffer.byteLength(t) <= 255) return t;
  return `.xtc-${batchId}-${crypto.createHash('sha256').update(name).digest('hex').slice(0, 16)}.part`;
}

export function isTempName(name: string): boolean {
  return TEMP_RE.test(name);
}

/** "orders.csv" → "orders-1.csv"; "README" → "README-1"; ".profile" → ".profile-1". */
export function numberedName(name: string, n: number): string {
  const ext = path.extname(name);
  const stem = ext && ext !== name ? name.slice(0, -ext.length) : name;
  return `${stem}-${n}${stem === name ? '' : ext}`;
}

/** What happens when the inbox already holds a file of the name being downloaded. */
export type IfExists = 'rename' | 'fail' | 'skip';
export const IF_EXISTS: readonly IfExists[] = ['rename', 'fail', 'skip'];

const MAX_NUMBERED = 999;

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * Gives the finished temporary file its final name in `dir` without ever replacing a file there: link() fails
 * with EEXIST when the name is taken, atomically, which rename() would not (it replaces silently). Returns the
 * name used, or null when `skip` found the name taken. On a file system without hard links (some network and
 * FAT mounts) it falls back to exists-then-rename, which leaves a moment in which another writer could win.
 */
export async function placeFile(tempPath: string, dir: string, name: string, ifExists: IfExists): Promise<string | null> {
  for (let n = 0; n <= MAX_NUMBERED; n++) {
    const candidate = n === 0 ? name : numberedName(name, n);
    const dest = path.join(dir, candidate);
    try {
      await fs.promises.link(tempPath, dest);
      await fs.promises.unlink(tempPath);
      return candidate;
    } catch (err) {
      const code = errCode(err);
      if (code === 'EEXIST') {
        if (ifExists === 'skip') return null;
        if (ifExists === 'fail') throw new PermanentError(`${dest} exists already and was not overwritten (ifExists is "fail")`);
        continue;
      }
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
        if (fs.existsSync(dest)) {
          if (ifExists === 'skip') return null;
          if (ifExists === 'fail') throw new PermanentError(`${dest} exists already and was not overwritten (ifExists is "fail")`);
          continue;
        }
        await fs.promises.rename(tempPath, dest);
        return candidate;
      }
      throw err;
    }
  }
  throw new PermanentError(`${path.join(dir, name)} and ${MAX_NUMBERED} numbered variants of it exist already; clear the inbox`);
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new TransientError('stopped');
}

export interface UploadRequest {
  batchId: number;
  localPath: string;
  remoteName: string;
  signal: AbortSignal;
}

export interface MovedFile {
  /** The file's name where it ended up (inbox name for downloads, remote name for uploads). */
  name: string;
  bytes: number;
  /** Downloads: the name on the server, when the inbox name differs (numbered because the name was taken). */
  remoteName?: string;
  /** Downloads with afterDownload=archive: where the remote file was moved. */
  archivedAs?: string;
}

/**
 * Removes a failed upload's temporary file on a new connection: after a failed transfer the old one may be broken
 * in ways that do not show (an FTP reply of the failed transfer arriving as the answer to DELE), so a clean-up on
 * it can fail, or be taken for done, and leave the ".part" file behind. Best effort: a file left behind is
 * overwritten by the job's next attempt (same name) and passed by by downloads (hidden, ".part").
 */
async function removeOnFreshSession(reopen: () => Promise<RemoteSession>, temp: string): Promise<void> {
  const fresh = await reopen();
  try {
    if ((await fresh.size(temp)) !== null) await fresh.remove(temp);
  } finally {
    await fresh.close();
  }
}

/**
 * Local file → temporary remote name → size check → rename to the final name → size check. The partner never
 * sees a short file under the final name; a failed attempt removes its hidden temporary file over a new
 * connection (`reopen`), or at worst leaves it for the next attempt to overwrite.
 */
export async function uploadVia(s: RemoteSession, req: UploadRequest, reopen?: () => Promise<RemoteSession>): Promise<MovedFile> {
  const bytes = (await fs.promises.stat(req.localPath)).size;
  const temp = tempName(req.remoteName, req.batchId);
  try {
    await s.put(req.localPath, temp);
    throwIfAborted(req.signal);
    const sent = await s.size(temp);
    if (sent !== bytes) {
      throw new TransientError(`${s.where}: sent ${bytes} bytes as "${temp}" but the server reports ${sent === null ? 'no such file' : `${sent} bytes`}`);
    }
    await s.rename(temp, req.remoteName, { replace: true });
  } catch (err) {
    if (!req.signal.aborted) {
      const cleaned = reopen ? removeOnFreshSession(reopen, temp) : s.remove(temp);
      await cleaned.catch(() => undefined);
    }
    throw err;
  }
  const landed = await s.size(req.remoteName);
  if (landed !== bytes) {
    throw new TransientError(`${s.where}: renamed "${temp}" to "${req.remoteName}" but the server reports ${landed === null ? 'no such file' : `${landed} bytes`} instead of ${bytes}`);
  }
  return { name: req.remoteName, bytes };
}

export type AfterDownload = 'keep' | 'delete' | 'archive';
export const AFTER_DOWNLOAD: readonly AfterDownload[] = ['keep', 'delete', 'archive'];

export interface DownloadRequest {
  batchId: number;
  pattern: string;
  inbox: string;
  ifExists: IfExists;
  afterDownload: AfterDownload;
  /** Required with afterDownload=archive; relative to the remote folder or absolute. Must exist. */
  archiveDir: string | null;
  signal: AbortSignal;
  log: Logger;
}

export interface DownloadResult {
  files: MovedFile[];
  /** Names passed by because ifExists=skip found them in the inbox. */
  skipped: string[];
}

function remoteJoin(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** The archive name for a file: its own name, or a numbered one when the archive already has that name. */
async function archiveTarget(s: RemoteSession, archiveDir: string, name: string): Promise<string> {
  for (let n = 0; n <= 99; n++) {
    const target = remoteJoin(archiveDir, n === 0 ? name : numberedName(name, n));
    if ((await s.size(target)) === null) return target;
  }
  throw new PermanentError(`${s.where}: the archive folder "${archiveDir}" already holds "${name}" and 99 numbered variants of it`);
}

/**
 * Every file of the remote folder matching `pattern` into the inbox: each under a temporary name, its size
 * checked against the listing, then linked to its final name (never over an existing file), and only then
 * deleted or archived on the server. A failure between the local rename and the remote delete means the next
 * attempt downloads that file again, as a numbered copy: files may arrive twice, never not at all.
 */
export async function downloadVia(s: RemoteSession, req: DownloadRequest): Promise<DownloadResult> {
  // Before anything is downloaded: a missing archive folder would otherwise show only after the first file is in
  // the inbox, leaving it both there and on the server.
  if (req.afterDownload === 'archive' && !(await s.isFolder(req.archiveDir!))) {
    throw new JobInputError(req.batchId, 'parameter "archiveDir"', `names "${req.archiveDir}", which is not a folder on ${s.where}; ` +
      'nothing was downloaded (create it on the server, or fix archiveDir)');
  }
  const entries = await s.list();
  for (const e of entries) {
    if (e.kind === 'dir' && (e.name === '.' || e.name === '..')) continue;
    checkRemoteName(req.batchId, e.name, s.where, req.inbox);
  }
  const matches = picomatch(req.pattern, { dot: false });
  const files = entries
    .filter((e) => e.kind === 'file' && !isTempName(e.name) && matches(e.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await fs.promises.mkdir(req.inbox, { recursive: true });
  if (req.ifExists === 'fail') {
    const taken = files.filter((f) => fs.existsSync(path.join(req.inbox, f.name))).map((f) => f.name);
    if (taken.length) {
      throw new PermanentError(`the inbox ${req.inbox} already has ${taken.map((n) => JSON.stringify(n)).join(', ')}; ` +
        'nothing was downloaded (ifExists is "fail")');
    }
  }
  const out: DownloadResult = { files: [], skipped: [] };
  for (const f of files) {
    throwIfAborted(req.signal);
    if (req.ifExists === 'skip' && fs.existsSync(path.join(req.inbox, f.name))) {
      out.skipped.push(f.name);
      continue;
    }
    const tmp = path.join(req.inbox, tempName(f.name, req.batchId));
    let placed: string | null;
    let bytes: number;
    try {
      await s.get(f.name, tmp);
      bytes = (await fs.promises.stat(tmp)).size;
      const expected = Number.isFinite(f.size) ? f.size : await s.size(f.name);
      if (bytes !== expected) {
        throw new TransientError(`${s.where}: "${f.name}" arrived with ${bytes} bytes but the server lists ${expected ?? 'no such file'}` +
          ' (the transfer was cut short, or the file was still being written)');
      }
      placed = await placeFile(tmp, req.inbox, f.name, req.ifExists);
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
    if (placed === null) {
      out.skipped.push(f.name);
      continue;
    }
    const moved: MovedFile = { name: placed, bytes };
    if (placed !== f.name) moved.remoteName = f.name;
    if (req.afterDownload === 'delete') {
      await s.remove(f.name);
    } else if (req.afterDownload === 'archive') {
      const target = await archiveTarget(s, req.archiveDir!, f.name);
      await s.rename(f.name, target, { replace: false });
      moved.archivedAs = target;
    }
    out.files.push(moved);
    req.log.info(`downloaded ${f.name} (${bytes} bytes) as ${path.join(req.inbox, placed)}`);
  }
  return out;
}
