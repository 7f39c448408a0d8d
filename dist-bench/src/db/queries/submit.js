"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.submitEmail = submitEmail;
exports.submitAction = submitAction;
exports.submitReport = submitReport;
exports.retryJob = retryJob;
exports.cancelJob = cancelJob;
/** Through xTuple's own function, so the CLI takes exactly the path that ERP code takes. */
async function submitEmail(pool, e) {
    const { rows } = await pool.query(`SELECT xtbatch.submitEmailToBatch($1, $2, $3, $4, $5, $6, $7::timestamp, $8, $9, $10) AS id`, [e.from, e.to, e.cc, e.subject, e.body, e.filename, e.scheduled, e.html, e.replyTo, e.bcc]);
    return rows[0].id;
}
async function insertParams(client, batchId, params) {
    if (params.length === 0)
        return;
    await client.query(`INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
     SELECT $1, o, n, v, t FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS p(n, v, t, o)`, [batchId, params.map((p) => p.name), params.map((p) => p.value), params.map((p) => p.type)]);
}
/**
 * The job and its parameters in one transaction: the daemon can claim the row the moment it commits, and must
 * not find it without its parameters.
 */
async function submitWithParams(pool, sql, values, params) {
    const client = await pool.connect();
    try {
        await client.query('BEGIN');
        const { rows } = await client.query(sql, values);
        const id = rows[0].id;
        await insertParams(client, id, params);
        await client.query('COMMIT');
        return id;
    }
    catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
    }
    finally {
        client.release();
    }
}
function submitAction(pool, action, email, scheduled, params) {
    return submitWithParams(pool, `SELECT xtbatch.submitActionToBatch($1, $2, $3::timestamp) AS id`, [action, email, scheduled], params);
}
function submitReport(pool, r, params) {
    return submitWithParams(pool, `SELECT xtbatch.submitReportToBatch($1, $2, $3, $4, $5, $6, $7, $8::timestamp, $9) AS id`, [r.report, r.from, r.to, r.cc, r.subject, r.body, r.filename, r.scheduled, r.html], params);
}
/** xTuple's Retry: due again now with a fresh attempt count. */
async function retryJob(pool, id) {
    const { rows } = await pool.query(`SELECT xtbatch.rescheduleBatchItem($1, localtimestamp) AS r`, [id]);
    return rows[0].r;
}
async function cancelJob(pool, id) {
    const { rows } = await pool.query(`SELECT xtbatch.cancelBatchItem($1) AS r`, [id]);
    return rows[0].r;
}
//# sourceMappingURL=submit.js.map