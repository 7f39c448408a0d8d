import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Whether a process with this id exists (EPERM: it does, under another user, e.g. PostgreSQL run as "postgres"). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(file: string): { pid: number; ino: number } | null {
  try {
    const st = fs.statSync(file);
    return { pid: Number.parseInt(fs.readFileSync(file, 'utf8'), 10), ino: st.ino };
  } catch {
    return null;
  }
}

/**
 * Runs `fn` while holding a lock file: one process at a time decides whether the embedded server runs, starts it
 * or stops it. The file holds the holder's process id; one whose holder died (SIGKILL, power loss) is broken by
 * the next process that finds it, so a crash never leaves the data folder locked. Breaking is made safe against
 * two processes breaking at once: the stale file is renamed away and checked to be the one that was read.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, o: { timeoutMs?: number; what?: string } = {}): Promise<T> {
  const timeoutMs = o.timeoutMs ?? 180_000;
  const deadline = Date.now() + timeoutMs;
  const mine = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (;;) {
      try {
        // link() either makes the lock ours, whole (pid written), or fails because it is held.
        fs.linkSync(mine, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = readPid(file);
      if (held && !processAlive(held.pid)) {
        const stale = `${file}.stale.${process.pid}`;
        try {
          fs.renameSync(file, stale);
          const moved = readPid(stale);
          // Someone else broke it and took it between our read and our rename: give theirs back.
          if (moved && moved.ino !== held.ino) fs.linkSync(stale, file);
        } catch {
          // It went away meanwhile: try again.
        }
        fs.rmSync(stale, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`${o.what ?? file} is locked by process ${held?.pid ?? '?'} (${file}) for more than ${Math.round(timeoutMs / 1000)} s`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/**
 * The processes using something, one file per process id in `dir`: each adds itself, and whoever removes the
 * last live one is the one to clean up. Files of processes that died are not counted.
 */
export class ProcessRegistry {
  constructor(private readonly dir: string) {}

  add(pid = process.pid): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(this.dir, String(pid)), '', { mode: 0o600 });
  }

  remove(pid = process.pid): void {
    fs.rmSync(path.join(this.dir, String(pid)), { force: true });
  }

  /** The live processes registered, after forgetting the dead ones. */
  live(): number[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    const alive: number[] = [];
    for (const n of names) {
      const pid = Number(n);
      if (/^\d+$/.test(n) && processAlive(pid)) alive.push(pid);
      else fs.rmSync(path.join(this.dir, n), { force: true });
    }
    return alive;
  }
}
