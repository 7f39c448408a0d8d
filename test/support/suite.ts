import { createTestDatabase, type TestDatabase } from './db';
import type { RunningDaemon } from './daemon';

export interface DatabaseSuite {
  db: TestDatabase;
  /** Daemons a test started; each is stopped after the test, pass or fail. */
  daemons: RunningDaemon[];
  /** Servers a test started (SMTP, FTP, ...); closed after the test, once its daemons have stopped. */
  servers: Array<{ close(): Promise<void> }>;
}

/**
 * One database for the test file; after each test its daemons are stopped and `resetSql` empties what the test
 * wrote; the database is dropped at the end.
 */
export function databaseSuite(resetSql: string): DatabaseSuite {
  const suite = { daemons: [] as RunningDaemon[], servers: [] as DatabaseSuite['servers'] } as DatabaseSuite;
  beforeAll(async () => {
    suite.db = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(suite.daemons.splice(0).map((d) => d.stop(0)));
    await Promise.all(suite.servers.splice(0).map((s) => s.close()));
    await suite.db.pool.query(resetSql);
  });
  afterAll(async () => {
    await suite.db.drop();
  });
  return suite;
}
