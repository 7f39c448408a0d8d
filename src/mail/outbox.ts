import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** How many numbered names (batch-7-1.eml ... batch-7-999.eml) are tried before giving up. */
const MAX_NUMBERED = 999;

/** "batch-7" -> "batch-7.eml", then "batch-7-1.eml", "batch-7-2.eml", ... */
export function outboxName(stem: string, n: number): string {
  return n === 0 ? `${stem}.eml` : `${stem}-${n}.eml`;
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * Writes one message into the outbox folder and returns the file's path. A file already there is never
 * replaced: two daemons share the folder, and a new database numbers its jobs from 1 again, so "batch-7.eml" may
 * well exist and belong to another message. The bytes go to a temporary name of this writer's own (process id and
 * random part, hidden with a leading dot), then link() gives them the final name, which fails with EEXIST,
 * atomically, when the name is taken (rename() would replace it silently); the next numbered name is tried then.
 * So a reader never sees half a message, and no two writers ever touch one file. On a file system without hard
 * links (some network and FAT mounts) the final name is created with O_EXCL and the bytes copied into it: still
 * never a replaced file, though a reader could then see it while it is being written.
 */
export async function writeOutboxFile(dir: string, stem: string, bytes: Buffer): Promise<string> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const safe = stem.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  const tmp = path.join(dir, `.${safe}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  await fs.writeFile(tmp, bytes, { flag: 'wx', mode: 0o600 });
  try {
    for (let n = 0; n <= MAX_NUMBERED; n++) {
      const file = path.join(dir, outboxName(safe, n));
      try {
        await fs.link(tmp, file);
        return file;
      } catch (err) {
        const c = code(err);
        if (c === 'EEXIST') continue;
        if (c !== 'EPERM' && c !== 'ENOTSUP' && c !== 'EOPNOTSUPP' && c !== 'ENOSYS') throw err;
      }
      // No hard links here: exclusive create, then the bytes.
      try {
        await fs.copyFile(tmp, file, fs.constants.COPYFILE_EXCL);
        return file;
      } catch (err) {
        if (code(err) !== 'EEXIST') throw err;
      }
    }
    throw new Error(`${path.join(dir, outboxName(safe, 0))} and ${MAX_NUMBERED} numbered variants of it exist already; clear the outbox`);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}
