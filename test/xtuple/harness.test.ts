import { createXtupleDatabase, erpSession } from '../support/xtupleDb';
import type { TestDatabase } from '../support/db';

// The harness itself: a copy of xTuple's real schema with quickstart data, as an ERP session sees it.
describe('xTuple real-schema test database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createXtupleDatabase({ data: true });
  }, 120_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('holds the ERP schema and quickstart metrics, read through an ERP session', async () => {
    const s = await erpSession(db.url);
    try {
      const app = await s.query<{ v: string }>(`SELECT fetchMetricText('Application') AS v`);
      expect(app.rows[0].v).toBe('PostBooks');
      const n = await s.query<{ n: string }>('SELECT count(*) AS n FROM metric');
      expect(Number(n.rows[0].n)).toBeGreaterThan(200);
      const pk = await s.query(`SELECT pkghead_developer FROM pkghead LIMIT 0`);
      expect(pk.fields.map((f) => f.name)).toEqual(['pkghead_developer']);
    } finally {
      await s.end();
    }
  });
});
