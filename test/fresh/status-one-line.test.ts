import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { killAll, removeTempDirs, runXt, tempDir } from '../support/proc';

// `xtconnect status` is a monitoring plugin: whatever goes wrong, it prints exactly one line (stdout and stderr
// together) and the exit code is the verdict. A new user's first mistakes: a config file that is not valid YAML
// (the parser's message spans several lines), an unknown key, and status before the schema is installed.

jest.setTimeout(60_000);

let dir: string;
let empty: TestDatabase | null = null;

beforeAll(() => {
  dir = tempDir('xtconnect-status-');
});
afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  await empty?.drop();
  removeTempDirs();
});

function config(name: string, yaml: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, yaml);
  return file;
}

/** Everything the command printed, as lines. */
function lines(r: { stdout: string; stderr: string }): string[] {
  return (r.stdout + r.stderr).split('\n').filter((l) => l !== '');
}

describe('status prints one line', () => {
  it('with a config file that is not valid YAML: UNKNOWN (3), the parser\'s reason folded onto the line', async () => {
    const file = config('broken.yaml', 'database:\n  url: [unclosed\nsmtp:\n  host: x\n');
    const r = await runXt(['status', '--config', file]);
    expect(r.code).toBe(3);
    expect(lines(r)).toHaveLength(1);
    expect(r.stdout).toMatch(new RegExp(`^XTCONNECT UNKNOWN - config file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid YAML: .+\\n$`));
  });

  it('with an unknown key: UNKNOWN (3), naming it, nothing on stderr', async () => {
    const file = config('typo.yaml', 'daemon:\n  concurency: 3\n');
    const r = await runXt(['status', '--config', file]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 3, stderr: '' });
    expect(lines(r)).toEqual([expect.stringMatching(/^XTCONNECT UNKNOWN - .*unknown key "daemon\.concurency"/)]);
  });

  it('before migrate: UNKNOWN (3), the schema is missing and "xtconnect migrate" installs it', async () => {
    empty = await createTestDatabase({ empty: true });
    const file = config('empty.yaml', '');
    const r = await runXt(['status', '--config', file, '--database-url', empty.url]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 3, stderr: '' });
    expect(lines(r)).toEqual([expect.stringMatching(
      /^XTCONNECT UNKNOWN - the xtbatch schema is not installed in this database \(relation "xtbatch\.daemon" does not exist\): "xtconnect migrate" installs it$/)]);
  });

  it.each([
    [['--bogus'], /^XTCONNECT UNKNOWN - unknown option '--bogus'$/],
    [['--max-failures', 'abc'], /^XTCONNECT UNKNOWN - option '--max-failures <n>' argument 'abc' is invalid\. --max-failures must be a whole number/],
  ])('with a bad argument %j: UNKNOWN (3) on one line of stdout, no usage text', async (args, says) => {
    const r = await runXt(['status', ...args, '--config', config('ok.yaml', '')]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 3, stderr: '' });
    expect(lines(r)).toEqual([expect.stringMatching(says)]);
  });
});
