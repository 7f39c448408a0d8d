import type pg from 'pg';
import { createPool, endPool } from '../../src/db/pool';
import { silentLogger } from '../../src/log';
import { createTestDatabase, type TestDatabase } from '../support/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

// pool.end() resolves once its clients are told to close, before they have: an embedded server stopped right after
// would still find them connected and log them as lost.
it('endPool returns only once every connection of the pool is closed', async () => {
  const pool = createPool({ url: db.url, max: 3, statementTimeoutMs: 0, applicationName: 'xtc endPool test' }, silentLogger());
  const closed: boolean[] = [];
  pool.on('connect', (c: pg.PoolClient) => {
    const i = closed.push(false) - 1;
    c.once('end', () => (closed[i] = true));
  });
  await Promise.all([1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.05)')));
  expect(closed).toEqual([false, false, false]);
  await endPool(pool);
  expect(closed).toEqual([true, true, true]);
});
