import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Config } from '../../src/config';
import { createLogger, redactSecrets } from '../../src/log';
import { tempDir } from '../support/tempDirs';
import { waitFor } from '../support/wait';

// Logs: syslog priorities for journald, a size-rotated file target, and no secret in any line.

function logCfg(over: Partial<Config['log']> = {}): Pick<Config, 'log'> {
  return { log: { level: 'debug', format: 'text', file: null, maxSizeMb: 50, maxFiles: 5, ...over } };
}

function stderrCapture(): { stream: Writable; lines: () => string[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, lines: () => text.split('\n').filter((l) => l !== '') };
}

describe('log lines', () => {
  it('carry the syslog priority journald reads, and no timestamp, under systemd', () => {
    const out = stderrCapture();
    const log = createLogger(logCfg(), { JOURNAL_STREAM: '8:12345' }, { stderr: out.stream });
    log.error('e', { scope: 'daemon' });
    log.warn('w', { scope: 'daemon' });
    log.info('i', { scope: 'job', batchId: 7 });
    log.debug('d');
    expect(out.lines()).toEqual(['<3>[daemon] e', '<4>[daemon] w', '<6>[job] i batchId=7', '<7>d']);
  });

  it('carry their own time and level when not under systemd, and honour the level', () => {
    const out = stderrCapture();
    const log = createLogger(logCfg({ level: 'warn' }), {}, { stderr: out.stream });
    log.info('not shown');
    log.warn('shown', { scope: 'listener' });
    expect(out.lines()).toHaveLength(1);
    expect(out.lines()[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn  \[listener\] shown$/);
  });

  it('never carry a password: connection strings and key=value forms are redacted, in text, JSON and the file', async () => {
    const dir = tempDir('xtconnect-log-');
    const file = path.join(dir, 'xtconnect.log');
    for (const format of ['text', 'json'] as const) {
      const out = stderrCapture();
      const log = createLogger(logCfg({ format, file }), {}, { stderr: out.stream });
      log.warn('could not connect to postgresql://xtconnect:s3cr3t-pw@erp-db:5432/erp (timeout)', {
        scope: 'db',
        target: 'sftp://upload:an0ther-pw@files.example.com/in',
        dsn: 'host=erp-db user=xtconnect password=k3yw0rd-pw dbname=erp',
      });
      const all = out.lines().join('\n');
      expect(all).toContain('postgresql://xtconnect:***@erp-db:5432/erp');
      expect(all).toContain('sftp://upload:***@files.example.com/in');
      expect(all).toContain('password=***');
      for (const secret of ['s3cr3t-pw', 'an0ther-pw', 'k3yw0rd-pw']) expect(all).not.toContain(secret);
      log.end();
    }
    const written = await waitFor('both lines in the file', () => {
      const t = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      return t.split('\n').filter((l) => l.includes('erp-db')).length === 2 ? t : null;
    });
    for (const secret of ['s3cr3t-pw', 'an0ther-pw', 'k3yw0rd-pw']) expect(written).not.toContain(secret);
  });

  it('redactSecrets leaves text without secrets alone', () => {
    expect(redactSecrets('job 12 done in 40 ms; see https://example.com/doc')).toBe('job 12 done in 40 ms; see https://example.com/doc');
    expect(redactSecrets('postgresql://postgres@127.0.0.1:5432/db')).toBe('postgresql://postgres@127.0.0.1:5432/db');
    expect(redactSecrets(`password='two words' user=x`)).toBe('password=*** user=x');
  });
});

describe('the log file', () => {
  it('rotates by size, keeps log.maxFiles files, and keeps the newest lines under the configured name', async () => {
    const dir = tempDir('xtconnect-log-');
    const file = path.join(dir, 'xtconnect.log');
    const log = createLogger(logCfg({ file, maxSizeMb: 1, maxFiles: 3, level: 'info' }), {}, { stderr: stderrCapture().stream });
    const filler = 'x'.repeat(1000);
    // About 4.2 MB: four rotations at 1 MB; only three files may remain.
    const count = 4200;
    for (let i = 0; i < count; i++) log.info(`line ${i} ${filler}`);
    const last = `line ${count - 1} `;
    await waitFor('the last line in the current file', () => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(last), 20_000);
    const files = await waitFor('rotation to settle at three files', () => {
      const names = fs.readdirSync(dir).sort();
      return names.length === 3 ? names : null;
    });
    expect(files).toEqual(['xtconnect.log', 'xtconnect1.log', 'xtconnect2.log']);
    for (const f of files) expect(fs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(1024 * 1024 + 2048);
    // tailable: xtconnect1.log holds the lines just before those in xtconnect.log.
    const current = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    const previous = fs.readFileSync(path.join(dir, 'xtconnect1.log'), 'utf8').split('\n').filter((l) => l !== '');
    const older = fs.readFileSync(path.join(dir, 'xtconnect2.log'), 'utf8').split('\n').filter((l) => l !== '');
    const num = (l: string): number => Number(/ line (\d+) /.exec(l)![1]);
    // No line lost or reordered across a rotation.
    expect(num(older[older.length - 1]!) + 1).toBe(num(previous[0]!));
    expect(num(previous[previous.length - 1]!) + 1).toBe(num(current[0]!));
    for (const part of [older, previous, current]) expect(num(part[part.length - 1]!) - num(part[0]!) + 1).toBe(part.length);
    expect(num(current[current.length - 1]!)).toBe(count - 1);
    log.end();
  });

  it('refuses a file it cannot open, naming the setting', () => {
    expect(() => createLogger(logCfg({ file: '/nonexistent-dir/xtconnect.log' }), {}, { stderr: stderrCapture().stream })).toThrow(
      /^log\.file: cannot open \/nonexistent-dir\/xtconnect\.log for writing/,
    );
  });
});
