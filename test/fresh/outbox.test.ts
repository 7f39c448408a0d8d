import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { createMailer, type Mailer } from '../../src/mail/transport';
import { writeOutboxFile } from '../../src/mail/outbox';
import { tempDir } from '../support/tempDirs';

// The outbox (no SMTP server configured) is shared by every daemon of one data folder, and a new database numbers
// its jobs from 1 again: batch-<id>.eml may exist and belong to another message. No file is ever replaced, and
// two writers never share a temporary file.

function mailer(dir: string): Mailer {
  return createMailer({ smtp: null, outboxDir: dir } as Parameters<typeof createMailer>[0]);
}

function subjects(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of fs.readdirSync(dir)) m.set(f, /^Subject: (.*)\r$/m.exec(fs.readFileSync(path.join(dir, f), 'utf8'))?.[1] ?? '(none)');
  return m;
}

describe('the .eml outbox', () => {
  it('never replaces an existing file: the next message of the same job id gets a numbered name', async () => {
    const dir = tempDir('xtconnect-outbox-');
    fs.writeFileSync(path.join(dir, 'batch-7.eml'), 'an earlier message, from another database\n');
    const m = mailer(dir);
    const first = await m.send({ from: 'f@x.y', to: 'a@b.c', subject: 'one', text: 'x' }, 'batch-7');
    const second = await m.send({ from: 'f@x.y', to: 'a@b.c', subject: 'two', text: 'y' }, 'batch-7');
    expect([first.deliveredTo, second.deliveredTo]).toEqual([path.join(dir, 'batch-7-1.eml'), path.join(dir, 'batch-7-2.eml')]);
    expect(fs.readFileSync(path.join(dir, 'batch-7.eml'), 'utf8')).toBe('an earlier message, from another database\n');
    expect(Object.fromEntries(subjects(dir))).toEqual({
      'batch-7.eml': '(none)', 'batch-7-1.eml': 'one', 'batch-7-2.eml': 'two',
    });
  });

  it('two writers (two daemons) sending the same job ids at once: every message in a file of its own, whole', async () => {
    const dir = tempDir('xtconnect-outbox-');
    const a = mailer(dir);
    const b = mailer(dir);
    // Bodies of different sizes, so that two writers sharing a temporary file would leave a mixed or cut message.
    const sends: Array<Promise<unknown>> = [];
    for (let id = 1; id <= 10; id++) {
      for (const [who, m] of [['A', a], ['B', b]] as const) {
        sends.push(m.send({ from: 'f@x.y', to: 'a@b.c', subject: `${who}${id}`, text: `${who}${id} `.repeat(who === 'A' ? 20_000 : 5) }, `batch-${id}`));
      }
    }
    await Promise.all(sends);
    const files = subjects(dir);
    expect(files.size).toBe(20);
    expect([...files.values()].sort()).toEqual([...Array(10)].flatMap((_, i) => [`A${i + 1}`, `B${i + 1}`]).sort());
    for (const [f, subject] of files) {
      expect(f).toMatch(/^batch-\d+(-1)?\.eml$/);
      // The body is the sender's own, all of it.
      const parsed = await simpleParser(fs.readFileSync(path.join(dir, f)));
      expect(parsed.text?.trim()).toBe(`${subject} `.repeat(subject.startsWith('A') ? 20_000 : 5).trim());
    }
    // No temporary file left behind.
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('temporary names are the writer\'s own; a leftover of another writer is neither used nor removed', async () => {
    const dir = tempDir('xtconnect-outbox-');
    // What the old writer used as its temporary name: one per job id, shared by every daemon.
    fs.writeFileSync(path.join(dir, '.batch-3.eml.tmp'), 'half a message of another writer');
    const file = await writeOutboxFile(dir, 'batch-3', Buffer.from('Subject: mine\r\n\r\nbody\r\n'));
    expect(file).toBe(path.join(dir, 'batch-3.eml'));
    expect(fs.readFileSync(file, 'utf8')).toBe('Subject: mine\r\n\r\nbody\r\n');
    expect(fs.readFileSync(path.join(dir, '.batch-3.eml.tmp'), 'utf8')).toBe('half a message of another writer');
    expect(fs.readdirSync(dir).sort()).toEqual(['.batch-3.eml.tmp', 'batch-3.eml']);
  });

  it('a name that would leave the folder or hide the file stays a plain file name in it', async () => {
    const dir = tempDir('xtconnect-outbox-');
    const file = await writeOutboxFile(dir, '../../etc/x', Buffer.from('x'));
    expect(path.dirname(file)).toBe(dir);
    expect(path.basename(file)).toBe('__.._etc_x.eml');
  });
});
