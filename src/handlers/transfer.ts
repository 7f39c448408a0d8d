import path from 'node:path';
import { JobInputError } from '../errors';
import type { ParamValue } from '../jobs/params';
import { describeEndpoint, type Endpoint } from '../transfer/endpoints';
import { ftpDownload, ftpUpload } from '../transfer/ftp';
import { AFTER_DOWNLOAD, checkTargetName, IF_EXISTS, type AfterDownload, type IfExists } from '../transfer/paths';
import { sftpDownload, sftpUpload } from '../transfer/sftp';
import { assertInFileRoots, resolveAttachment } from '../jobs/files';
import { refuseUnknownParams } from '../jobs/knownParams';
import { resolveEndpoint } from '../transfer/resolveEndpoint';
import type { Handler, JobContext } from './types';

/** batchparam names each action reads; anything else is most likely a misspelling that would silently change what moves. */
const UPLOAD_PARAMS = ['endpoint', 'file', 'remoteName', 'remoteDir'];
const DOWNLOAD_PARAMS = ['endpoint', 'pattern', 'inbox', 'afterDownload', 'archiveDir', 'ifExists', 'remoteDir'];
class JobParams {
  constructor(
    private readonly ctx: JobContext,
    private readonly action: string,
    known: readonly string[],
  ) {
    refuseUnknownParams(ctx.job, ctx.params, action, known);
  }

  text(key: string): string | null {
    const v: ParamValue | undefined = this.ctx.params.get(key);
    if (v === undefined || v === null) return null;
    if (typeof v === 'boolean') throw new JobInputError(this.ctx.job.batch_id, `parameter "${key}"`, `must be text (got ${v})`);
    const s = String(v).trim();
    return s === '' ? null : s;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], dflt: T): T {
    const v = this.text(key);
    if (v === null) return dflt;
    if (!(allowed as readonly string[]).includes(v)) {
      throw new JobInputError(this.ctx.job.batch_id, `parameter "${key}"`, `is "${v}" but must be one of ${allowed.join(', ')}`);
    }
    return v as T;
  }

  /** `endpoint`, else xTuple's one-argument column batch_parameter. */
  endpoint(): string {
    const v = this.text('endpoint') ?? (this.ctx.job.batch_parameter?.trim() || null);
    if (!v) {
      throw new JobInputError(this.ctx.job.batch_id, 'parameter "endpoint"',
        `is missing: a ${this.action} job names an endpoint of the config file or an FTP EDI profile (or puts its name in batch_parameter)`);
    }
    return v;
  }
}

/** `file` as resolveAttachment reads batch_filename (absolute, or in the spool folder), with messages naming `file`. */
function uploadSource(ctx: JobContext, file: string | null): string {
  const id = ctx.job.batch_id;
  if (file === null) {
    const fromRow = resolveAttachment(ctx);
    if (!fromRow) {
      throw new JobInputError(id, 'parameter "file"', 'is missing (and batch_filename is empty): name the local file to upload, ' +
        'as an absolute path or a name in the spool folder');
    }
    return fromRow;
  }
  try {
    return resolveAttachment({ cfg: ctx.cfg, job: { ...ctx.job, batch_filename: file } })!;
  } catch (err) {
    const prefix = `job ${id}: batch_filename `;
    if (err instanceof JobInputError && err.field === 'batch_filename' && err.message.startsWith(prefix)) {
      throw new JobInputError(id, 'parameter "file"', err.message.slice(prefix.length));
    }
    throw err;
  }
}

export interface TransferResult {
  endpoint: string;
  protocol: Endpoint['protocol'];
  server: string;
  files: Array<{ name: string; bytes: number; remoteName?: string; archivedAs?: string; local?: string }>;
  inbox?: string;
  skipped?: string[];
}

/** FileUpload: params endpoint, file (or batch_filename), optional remoteName and remoteDir. */
export const uploadHandler: Handler = async (ctx): Promise<TransferResult> => {
  const id = ctx.job.batch_id;
  const p = new JobParams(ctx, 'FileUpload', UPLOAD_PARAMS);
  const name = p.endpoint();
  const localPath = uploadSource(ctx, p.text('file'));
  const remoteName = p.text('remoteName') ?? path.basename(localPath);
  checkTargetName(id, 'parameter "remoteName"', remoteName);
  const ep = await resolveEndpoint(ctx, name);
  const remoteDir = p.text('remoteDir') ?? ep.remoteDir;
  const req = { batchId: id, localPath, remoteName, signal: ctx.signal };
  const moved = ep.protocol === 'sftp' ? await sftpUpload(ep, remoteDir, req) : await ftpUpload(ep, remoteDir, req);
  ctx.log.info(`uploaded ${localPath} (${moved.bytes} bytes) to ${describeEndpoint(ep, remoteDir)} as ${moved.name}`);
  return { endpoint: ep.name, protocol: ep.protocol, server: describeEndpoint(ep, remoteDir), files: [{ ...moved, local: localPath }] };
};

/**
 * FileDownload: params endpoint, pattern (glob, default "*"), inbox (default <inboxDir or dataDir/inbox>),
 * afterDownload (keep | delete | archive; archive when only archiveDir is given), archiveDir, ifExists
 * (rename | fail | skip; default skip with keep, since the same files are listed again next time, else rename),
 * remoteDir.
 */
export const downloadHandler: Handler = async (ctx): Promise<TransferResult> => {
  const id = ctx.job.batch_id;
  const p = new JobParams(ctx, 'FileDownload', DOWNLOAD_PARAMS);
  const name = p.endpoint();
  const pattern = p.text('pattern') ?? '*';
  if (pattern.includes('/')) {
    throw new JobInputError(id, 'parameter "pattern"', `"${pattern}" contains "/": it matches names in the remote folder (set remoteDir for another folder)`);
  }
  const inbox = p.text('inbox') ?? (ctx.cfg as { inboxDir?: string }).inboxDir ?? path.join(ctx.cfg.dataDir, 'inbox');
  if (!path.isAbsolute(inbox)) throw new JobInputError(id, 'parameter "inbox"', `"${inbox}" must be an absolute path`);
  assertInFileRoots(ctx.cfg, id, 'parameter "inbox"', inbox);
  const archiveDir = p.text('archiveDir');
  const afterDownload: AfterDownload = p.oneOf('afterDownload', AFTER_DOWNLOAD, archiveDir ? 'archive' : 'keep');
  if (afterDownload === 'archive' && !archiveDir) {
    throw new JobInputError(id, 'parameter "archiveDir"', 'is missing: afterDownload=archive moves each downloaded file into that remote folder');
  }
  if (afterDownload !== 'archive' && archiveDir) {
    throw new JobInputError(id, 'parameter "archiveDir"', `is set but afterDownload is "${afterDownload}": leave one of them out`);
  }
  const ifExists: IfExists = p.oneOf('ifExists', IF_EXISTS, afterDownload === 'keep' ? 'skip' : 'rename');
  const ep = await resolveEndpoint(ctx, name);
  const remoteDir = p.text('remoteDir') ?? ep.remoteDir;
  const req = { batchId: id, pattern, inbox, ifExists, afterDownload, archiveDir, signal: ctx.signal, log: ctx.log };
  const got = ep.protocol === 'sftp' ? await sftpDownload(ep, remoteDir, req) : await ftpDownload(ep, remoteDir, req);
  const where = describeEndpoint(ep, remoteDir);
  ctx.log.info(`downloaded ${got.files.length} file(s), ${got.files.reduce((n, f) => n + f.bytes, 0)} bytes, from ${where} into ${inbox}` +
    (got.skipped.length ? `; ${got.skipped.length} already there, skipped` : ''));
  return {
    endpoint: ep.name,
    protocol: ep.protocol,
    server: where,
    inbox,
    files: got.files,
    ...(got.skipped.length ? { skipped: got.skipped } : {}),
  };
};
