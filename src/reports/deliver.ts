import fs from 'node:fs/promises';
import path from 'node:path';
import { JobInputError } from '../errors';
import { assertInFileRoots } from '../jobs/files';
import { resolveEndpoint } from '../transfer/resolveEndpoint';
import type { JobContext } from '../handlers/types';
import { mailAddresses, parseAddressList, type ParsedAddress } from '../mail/addresses';
import { describeEndpoint, type Endpoint } from '../transfer/endpoints';
import { ftpUpload } from '../transfer/ftp';
import { checkTargetName, placeFile, tempName } from '../transfer/paths';
import { sftpUpload } from '../transfer/sftp';

/**
 * Where a report goes, decided (and checked) before anything is rendered, so a bad address or an unknown
 * endpoint fails the job at once instead of after a long query.
 */
export interface DeliveryPlan {
  email: null | {
    from: ParsedAddress[];
    to: ParsedAddress[];
    cc: ParsedAddress[];
    bcc: ParsedAddress[];
    replyTo: ParsedAddress[];
    subject: string;
    body: string;
    html: boolean;
  };
  upload: null | { endpoint: Endpoint; remoteDir: string };
  folder: null | { dir: string; field: string };
}

export type Delivered =
  | { to: 'email'; messageId: string; accepted: string[]; rejected: string[]; deliveredTo: string }
  | { to: 'endpoint'; endpoint: string; server: string; remoteName: string; bytes: number }
  | { to: 'folder'; path: string };

/** The delivery options of a report job: its xtconnect_* parameters, without the prefix. */
export const DELIVERY_OPTIONS = ['endpoint', 'remotedir', 'folder', 'format', 'query', 'csv_delimiter', 'csv_header'] as const;

function opt(options: ReadonlyMap<string, string | null>, key: string): string | null {
  const v = options.get(key);
  return v === undefined || v === null || v.trim() === '' ? null : v.trim();
}

/** An unknown xtconnect_* parameter is most likely misspelt, and would silently change where a report goes. */
export function checkDeliveryOptions(batchId: number, options: ReadonlyMap<string, string | null>): void {
  for (const key of options.keys()) {
    if (!(DELIVERY_OPTIONS as readonly string[]).includes(key)) {
      throw new JobInputError(batchId, `parameter "xtconnect_${key}"`,
        `is not a delivery option (they are ${DELIVERY_OPTIONS.map((k) => `xtconnect_${k}`).join(', ')})`);
    }
  }
}

/**
 * (a) email when batch_email is set; (b) upload when xtconnect_endpoint names an endpoint; (c) a copy into
 * xtconnect_folder, or into reports.outputDir when neither (a) nor (b) is asked. Several may apply at once.
 */
export async function planDelivery(ctx: JobContext, reportName: string, options: ReadonlyMap<string, string | null>): Promise<DeliveryPlan> {
  const { job, settings, cfg } = ctx;
  const id = job.batch_id;
  let email: DeliveryPlan['email'] = null;
  if (job.batch_email?.trim()) {
    const fromText = job.batch_fromemail?.trim() || settings.defaultFrom;
    if (!fromText) {
      throw new JobInputError(id, 'batch_fromemail',
        'is empty and DefaultBatchFromEmailAddress is not set: set one of them (xtconnect config set DefaultBatchFromEmailAddress you@example.com)');
    }
    email = {
      from: parseAddressList(id, job.batch_fromemail?.trim() ? 'batch_fromemail' : 'DefaultBatchFromEmailAddress', fromText),
      to: parseAddressList(id, 'batch_email', job.batch_email),
      cc: parseAddressList(id, 'batch_cc', job.batch_cc),
      bcc: parseAddressList(id, 'batch_bcc', job.batch_bcc),
      replyTo: parseAddressList(id, 'batch_replyto', job.batch_replyto),
      subject: job.batch_subject?.trim() || reportName,
      body: job.batch_responsebody ?? '',
      html: Boolean(job.batch_emailhtml),
    };
  }

  let upload: DeliveryPlan['upload'] = null;
  const endpointName = opt(options, 'endpoint');
  if (endpointName) {
    let endpoint: Endpoint;
    try {
      endpoint = await resolveEndpoint(ctx, endpointName);
    } catch (err) {
      // resolveEndpoint names the FileUpload parameter; here the job wrote xtconnect_endpoint.
      if (err instanceof JobInputError) {
        throw new JobInputError(id, 'parameter "xtconnect_endpoint"', err.message.replace(/^job \d+: parameter "endpoint" /, ''));
      }
      throw err;
    }
    upload = { endpoint, remoteDir: opt(options, 'remotedir') ?? endpoint.remoteDir };
  } else if (opt(options, 'remotedir')) {
    throw new JobInputError(id, 'parameter "xtconnect_remotedir"', 'is set but xtconnect_endpoint is not: name the endpoint to upload to');
  }

  let folder: DeliveryPlan['folder'] = null;
  const folderOpt = opt(options, 'folder');
  if (folderOpt) {
    const field = 'parameter "xtconnect_folder"';
    if (!path.isAbsolute(folderOpt)) throw new JobInputError(id, field, `"${folderOpt}" must be an absolute path`);
    assertInFileRoots(cfg, id, field, folderOpt);
    folder = { dir: folderOpt, field };
  } else if (!email && !upload) {
    folder = { dir: cfg.reports.outputDir, field: 'reports.outputDir' };
  }
  return { email, upload, folder };
}

/**
 * Copies the file into the folder under its own name, never replacing a file there: when the name is taken the
 * copy is numbered (Invoice-1.pdf, Invoice-2.pdf, ...), since a report run twice is two documents.
 */
async function copyToFolder(ctx: JobContext, file: string, name: string, dir: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, tempName(name, ctx.job.batch_id));
  await fs.copyFile(file, tmp);
  try {
    const placed = await placeFile(tmp, dir, name, 'rename');
    return path.join(dir, placed!);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Delivers in the order that keeps a retry least surprising: the folder copy and the upload first (an upload
 * replaces its own earlier copy), the mail last, because a mail cannot be taken back: when an upload fails the
 * job is retried before anyone got a message.
 */
export async function deliver(ctx: JobContext, plan: DeliveryPlan, file: string, name: string, contentType: string): Promise<Delivered[]> {
  const done: Delivered[] = [];
  const id = ctx.job.batch_id;
  if (plan.folder) {
    const placed = await copyToFolder(ctx, file, name, plan.folder.dir);
    ctx.log.info(`report copied to ${placed}`);
    done.push({ to: 'folder', path: placed });
  }
  if (plan.upload) {
    const { endpoint: ep, remoteDir } = plan.upload;
    checkTargetName(id, 'batch_filename', name);
    const req = { batchId: id, localPath: file, remoteName: name, signal: ctx.signal };
    const moved = ep.protocol === 'sftp' ? await sftpUpload(ep, remoteDir, req) : await ftpUpload(ep, remoteDir, req);
    const server = describeEndpoint(ep, remoteDir);
    ctx.log.info(`report uploaded to ${server} as ${moved.name} (${moved.bytes} bytes)`);
    done.push({ to: 'endpoint', endpoint: ep.name, server, remoteName: moved.name, bytes: moved.bytes });
  }
  if (plan.email) {
    const m = plan.email;
    ctx.lease?.check();
    const info = await ctx.services.mailer.send(
      {
        from: mailAddresses(m.from)[0],
        to: mailAddresses(m.to),
        cc: m.cc.length ? mailAddresses(m.cc) : undefined,
        bcc: m.bcc.length ? mailAddresses(m.bcc) : undefined,
        replyTo: m.replyTo.length ? mailAddresses(m.replyTo) : undefined,
        subject: m.subject,
        ...(m.html ? { html: m.body } : { text: m.body }),
        attachments: [{ filename: name, path: file, contentType }],
        headers: { 'X-xtconnect-Batch-Id': String(id) },
        signal: ctx.signal,
      } as Parameters<JobContext['services']['mailer']['send']>[0],
      `batch-${id}`,
      ctx.lease,
    );
    if (info.rejected.length) ctx.log.warn(`report mailed, but the server refused ${info.rejected.join(', ')}`);
    done.push({ to: 'email', messageId: info.messageId, accepted: info.accepted, rejected: info.rejected, deliveredTo: info.deliveredTo });
  }
  return done;
}
