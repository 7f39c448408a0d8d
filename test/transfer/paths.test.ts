/**
 * Names from servers and the inbox: which remote names are refused, what the temporary names look like, and
 * that a finished file never replaces one that is there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { JobInputError, PermanentError } from '../../src/errors';
import { checkRemoteName, isTempName, numberedName, placeFile, tempName, unsafeNameReason } from '../../src/transfer/paths';
import { tempDir } from '../support/tempDirs';

describe('remote names', () => {
  it.each<[string, string | null]>([
    ['orders.csv', null],
    ['IN 60096 (copy).pdf', null],
    ['a..b', null],
    ['..hidden', null],
    ['.profile', null],
    ['Ünïcödé.txt', null],
    ['', 'is empty'],
    ['../evil', 'contains a path separator ("/" or "\\")'],
    ['/etc/passwd', 'is an absolute path'],
    ['\\\\server\\share', 'is an absolute path'],
    ['dir/file', 'contains a path separator ("/" or "\\")'],
    ['..\\evil', 'contains a path separator ("/" or "\\")'],
    ['..', 'is a folder reference ("." or "..")'],
    ['.', 'is a folder reference ("." or "..")'],
    ['a\0b', 'contains a NUL character'],
    ['a\r\nDELE b', 'contains a control character'],
  ])('%p: %p', (name, reason) => {
    expect(unsafeNameReason(name)).toBe(reason);
  });

  it('checkRemoteName fails the job with JobInputError naming the file and the server', () => {
    let err: unknown;
    try {
      checkRemoteName(42, '../evil', 'endpoint "acme" (ftp://h:21)', '/var/lib/xtconnect/inbox');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JobInputError);
    expect((err as Error).message).toBe('job 42: remote file name "../evil" (listed by endpoint "acme" (ftp://h:21)) contains a path separator ' +
      '("/" or "\\"): a downloaded file may only land directly in the inbox, so nothing was downloaded');
  });
});

describe('temporary and numbered names', () => {
  it('hides the temporary name, keeps it the same for every attempt of a job, and recognises it', () => {
    expect(tempName('orders.csv', 7)).toBe('.orders.csv.xtc-7.part');
    expect(tempName('orders.csv', 7)).toBe(tempName('orders.csv', 7));
    const long = tempName('x'.repeat(250), 7);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(255);
    expect(long).toMatch(/^\.xtc-7-[0-9a-f]{16}\.part$/);
    expect([tempName('a', 1), long].every(isTempName)).toBe(true);
    expect(['a.part', '.a.part', '.a.xtc-x.part'].some(isTempName)).toBe(false);
  });

  it.each([['orders.csv', 'orders-3.csv'], ['README', 'README-3'], ['.profile', '.profile-3'], ['a.tar.gz', 'a.tar-3.gz']])('%p → %p', (name, numbered) => {
    expect(numberedName(name, 3)).toBe(numbered);
  });
});

describe('placeFile', () => {
  function temp(dir: string, content: string): string {
    const t = path.join(dir, tempName('x', 1) + Math.random());
    fs.writeFileSync(t, content);
    return t;
  }

  it('rename: takes the name when free, else the first free numbered one, and never replaces a file', async () => {
    const dir = tempDir('xtc-place-');
    expect(await placeFile(temp(dir, 'one'), dir, 'r.csv', 'rename')).toBe('r.csv');
    expect(await placeFile(temp(dir, 'two'), dir, 'r.csv', 'rename')).toBe('r-1.csv');
    fs.writeFileSync(path.join(dir, 'r-2.csv'), 'someone else');
    expect(await placeFile(temp(dir, 'three'), dir, 'r.csv', 'rename')).toBe('r-3.csv');
    expect(fs.readdirSync(dir).sort()).toEqual(['r-1.csv', 'r-2.csv', 'r-3.csv', 'r.csv']);
    expect(['r.csv', 'r-1.csv', 'r-2.csv', 'r-3.csv'].map((n) => fs.readFileSync(path.join(dir, n), 'utf8'))).toEqual(['one', 'two', 'someone else', 'three']);
  });

  it('skip leaves the temporary file for the caller to remove and returns null; fail throws PermanentError', async () => {
    const dir = tempDir('xtc-place-');
    fs.writeFileSync(path.join(dir, 'f.csv'), 'old');
    const t = temp(dir, 'new');
    expect(await placeFile(t, dir, 'f.csv', 'skip')).toBeNull();
    await expect(placeFile(t, dir, 'f.csv', 'fail')).rejects.toThrow(PermanentError);
    await expect(placeFile(t, dir, 'f.csv', 'fail')).rejects.toThrow(`${path.join(dir, 'f.csv')} exists already and was not overwritten (ifExists is "fail")`);
    expect(fs.readFileSync(path.join(dir, 'f.csv'), 'utf8')).toBe('old');
  });
});
