import type pg from 'pg';
import type { Client, Pool } from '../../db/pool';
import { cancelBackend, dbFailure, limitedDbFailure } from '../../db/jobConnection';
import { errorMessage, isOutage, JobInputError, LeaseLostError, PermanentError } from '../../errors';
import type { JobContext } from '../types';
import { badArgument, bindArgs, clearActionCache, forgetAction, resolveMapping, type ErpActionResult, type Resolved } from './mapping';

/*
 * ERP-action jobs that run at the same time go to the server together (issue 17): a group is one transaction of
 * three round trips (BEGIN with the statement timeout; xtbatch.xtconnect_run_actions, sql/0032 and 0035, which runs each
 * job's call and its fenced "done" in a subtransaction of its own; COMMIT), so a group pays one WAL flush and one
 * notification of the console for all its jobs, where each job used to pay four round trips and a commit.
 *
 * What grouping must not change, and how it does not:
 *  - a job's work and its "done" commit together or not at all, only under its lease: the function writes "done"
 *    fenced by owner, attempt, token and the server's clock right after the call, in the call's subtransaction,
 *    and rolls that job's block back when the fence fails; the row stays locked until COMMIT;
 *  - a job that fails rolls back only its own work: its block; the others commit;
 *  - a job stopped while in a group (timeout, lost lease, shutdown) is stopped on the server: the group's
 *    statement is cancelled, nothing of the group commits, and the other jobs are sent again;
 *  - a slow function must not hold fast ones back: only actions measured fast (FAST_US) are grouped, and a
 *    group's expected time is bounded (GROUP_BUDGET_US, MAX_GROUP); an action not yet measured runs alone;
 *  - a failure that grouping could cause (a lock conflict with another group, a temporary table or a setting
 *    an earlier job of the group left behind) is not held against the job: a job that fails after others in its
 *    group is run again alone (its first run was rolled back), and only that run's outcome counts;
 *  - a statement timeout of a group: each job is run again alone, under its own timeout.
 *
 * A group's session runs its calls one after another, so a group counts as one job against daemon.concurrency: its
 * first job holds a slot and the others, like the jobs queued for a group, wait without one (JobLease.sharing; the
 * runner bounds how many). Jobs sent again alone take their slots back, so for the moment after a group failed as a
 * whole the daemon may run more jobs than its concurrency, each on a connection of the handlers' pool (its size
 * bounds them).
 */

/** Grouped only below this measured time per call (µs): a group is bounded by GROUP_BUDGET_US. */
const FAST_US = 5_000;
const GROUP_BUDGET_US = 20_000;
const MAX_GROUP = 64;

export interface ErpJob {
  ctx: JobContext;
  m: Resolved;
  values: Array<string | null>;
  timeoutMs: number;
  builtIns: () => Iterable<string>;
  /** Run in a group of its own (its run in a group failed, or the group timed out). */
  alone: boolean;
  /** How often the mapping was found changed under it: from the second time on, the version is not checked. */
  stale: number;
  resolve: (out: ErpActionResult) => void;
  reject: (err: unknown) => void;
  state: 'queued' | 'sent' | 'settled';
  group: Group | null;
  onAbort: () => void;
}

interface Group {
  jobs: ErpJob[];
  pid: number | null;
  /** Set when a member was stopped: the statement was (or is being) cancelled because of it. */
  cancelling: Promise<void> | null;
  /** Set right before the statement goes out: a member stopped before that was never sent. */
  sent: boolean;
}

interface Row {
  job_id: number | null;
  outcome: 'done' | 'fenced' | 'error' | 'stale';
  job_result: ErpActionResult | null;
  err_code: string | null;
  err_message: string | null;
  elapsed_us: number;
}

/** Counters of every runner in this process (bench/erpActions.ts prints them). */
export const groupStats = { groups: 0, jobs: 0, rerunAlone: 0, resent: 0 };

const RUN_SQL = 'SELECT * FROM xtbatch.xtconnect_run_actions($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)';

/** One per pool: the queue of ERP jobs waiting to be sent, and the groups in flight. */
export class GroupRunner {
  private readonly queue: ErpJob[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Moving average of the server's time per call, by action (µs). */
  private readonly speed = new Map<string, number>();

  constructor(
    private readonly pool: Pool,
    private readonly maxParallel: number,
  ) {}

  /** Queues a job; settles with its result, or its error (LeaseLostError when fenced off at its commit). */
  submit(j: Omit<ErpJob, 'resolve' | 'reject' | 'state' | 'group' | 'onAbort' | 'alone' | 'stale'>): Promise<ErpActionResult> {
    return new Promise<ErpActionResult>((resolve, reject) => {
      const job: ErpJob = { ...j, alone: false, stale: 0, resolve, reject, state: 'queued', group: null, onAbort: () => this.aborted(job) };
      const { signal } = j.ctx;
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', job.onAbort, { once: true });
      this.enqueue(job);
    });
  }

  private enqueue(job: ErpJob, front = false): void {
    job.state = 'queued';
    job.group = null;
    // A job that will go in a group waits without its slot, so that a group counts as one job against the daemon's
    // concurrency: at concurrency 10, when every member held a slot, two groups in flight shared 10 jobs (3-4 each);
    // now they are about 22 (docs/performance.md, ERP actions).
    job.ctx.lease?.sharing(!job.alone && this.fast(job.m.action));
    if (front) this.queue.unshift(job);
    else this.queue.push(job);
    // After the current macrotask: the jobs the runner starts together (a loop over free slots) land in the queue
    // together and go out as one group.
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.dispatch();
      });
    }
  }

  private settle(job: ErpJob, err: unknown, out?: ErpActionResult): void {
    if (job.state === 'settled') return;
    job.state = 'settled';
    job.ctx.signal.removeEventListener('abort', job.onAbort);
    if (err === null) job.resolve(out!);
    else job.reject(err);
  }

  /** A job stopped (timeout, lost lease, shutdown): out of the queue, or its group's statement cancelled. */
  private aborted(job: ErpJob): void {
    const reason = job.ctx.signal.reason;
    // Nothing of it reached the server (queued, or its group still waiting for a connection): the daemon may put it
    // back rather than leave it to be taken back as if it had run.
    if (job.state === 'queued' || (job.state === 'sent' && job.group !== null && !job.group.sent)) job.ctx.lease?.notStarted();
    if (job.state === 'queued') {
      const i = this.queue.indexOf(job);
      if (i >= 0) this.queue.splice(i, 1);
    } else if (job.state === 'sent' && job.group && !job.group.cancelling && job.group.pid !== null) {
      job.group.cancelling = cancelBackend(this.pool, job.group.pid, job.ctx.log);
    }
    this.settle(job, reason);
  }

  private fast(action: string): boolean {
    const us = this.speed.get(action);
    return us !== undefined && us < FAST_US;
  }

  private dispatch(): void {
    // Jobs that are not grouped (an action not measured fast yet, or a job to run alone) go at once, each on a
    // connection of its own, as every ERP job did before: slow actions are limited only by the daemon's
    // concurrency and the pool, never by the groups below.
    for (let i = 0; i < this.queue.length; ) {
      const j = this.queue[i]!;
      if (j.alone || !this.fast(j.m.action)) {
        this.queue.splice(i, 1);
        void this.run([j]);
      } else {
        i++;
      }
    }
    while (this.queue.length > 0 && this.inFlight < this.maxParallel) {
      const free = this.maxParallel - this.inFlight;
      // Spread over the free connections, so that a small concurrency still overlaps a group's round trips with
      // another's; at least 8 a group, so that a large one still pays few commits.
      const share = Math.max(8, Math.ceil(this.queue.length / free));
      const group = this.take(Math.min(share, MAX_GROUP));
      this.inFlight++;
      void this.run(group).finally(() => {
        this.inFlight--;
        this.dispatch();
      });
    }
  }

  /** The next group: the queue's head, and those behind it that may go with it. */
  private take(max: number): ErpJob[] {
    const first = this.queue.shift()!;
    const group = [first];
    const key = groupKey(first);
    let budget = GROUP_BUDGET_US - this.speed.get(first.m.action)!;
    for (let i = 0; i < this.queue.length && group.length < max; ) {
      const j = this.queue[i]!;
      const us = this.speed.get(j.m.action);
      if (!j.alone && us !== undefined && us < FAST_US && us <= budget && groupKey(j) === key) {
        group.push(j);
        this.queue.splice(i, 1);
        budget -= us;
      } else {
        // Jobs that cannot go with this group keep their place.
        i++;
      }
    }
    return group;
  }

  private async run(jobs: ErpJob[]): Promise<void> {
    const group: Group = { jobs, pid: null, cancelling: null, sent: false };
    groupStats.groups++;
    groupStats.jobs += jobs.length;
    for (const j of jobs) {
      j.state = 'sent';
      j.group = group;
    }
    // The group's session runs its calls one after another: its first job holds the slot, the others wait.
    jobs[0]!.ctx.lease?.sharing(false);
    let client: Client;
    try {
      client = await this.pool.connect();
    } catch (err) {
      for (const j of jobs) this.settle(j, dbFailure('connecting to the database', err));
      return;
    }
    let destroy = false;
    try {
      // Stopped while waiting for the connection: not sent at all (send() leaves out each one stopped).
      if (!jobs.some((j) => j.state === 'sent')) return;
      group.pid = typeof (client as unknown as { processID?: unknown }).processID === 'number' ? (client as unknown as { processID: number }).processID : null;
      if (group.pid === null) group.pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await this.send(client, group, jobs);
    } catch (err) {
      destroy = true;
      for (const j of jobs) this.settle(j, err);
    } finally {
      // A cancel still in flight could hit the next user of this connection: wait for it first.
      if (group.cancelling) await group.cancelling;
      // A transaction left open (a failed ROLLBACK) must not reach the next user: such a client is dropped.
      const status = (client as unknown as { getTransactionStatus?: () => string | null }).getTransactionStatus?.();
      if (status && status !== 'I') destroy = true;
      client.release(destroy);
    }
  }

  /** One transaction for `live`; every member ends settled or queued again. */
  private async send(client: Client, group: Group, members: ErpJob[]): Promise<void> {
    // Those stopped while waiting for the connection or its process id are not sent; from here on a stop cancels
    // the statement.
    const live = members.filter((j) => j.state === 'sent');
    if (live.length === 0) return;
    group.sent = true;
    const ms = Math.max(0, Math.round(Math.min(...live.map((j) => j.timeoutMs))));
    const owner = live[0]!.ctx.lease?.owner ?? null;
    const version = live.some((j) => j.stale >= 2) ? null : live[0]!.m.version;
    const sqls: string[] = [];
    const stmt = live.map((j) => {
      let k = sqls.indexOf(j.m.sql);
      if (k < 0) k = sqls.push(j.m.sql) - 1;
      return k + 1;
    });
    const byStmt = sqls.map((s) => live.find((j) => j.m.sql === s)!.m);
    const byJob = new Map(live.map((j) => [j.ctx.job.batch_id, j]));
    const call: pg.QueryConfig = {
      name: 'xtconnect_run_actions',
      text: RUN_SQL,
      values: [
        owner, version,
        live.map((j) => j.ctx.job.batch_id),
        live.map((j) => j.ctx.job.batch_attempts),
        live.map((j) => j.ctx.lease?.token || null),
        stmt,
        JSON.stringify(live.map((j) => j.values)),
        sqls, byStmt.map((m) => m.fnName), byStmt.map((m) => m.info.retset), byStmt.map((m) => m.batchSql),
      ],
    };
    // The whole transaction in one write (each round trip costs more CPU than the work of a trivial job): BEGIN
    // with the statement timeout (a number computed here, not input: one simple query), the group, COMMIT. When
    // the group's statement fails, the transaction is aborted and the server answers COMMIT with ROLLBACK.
    const [begun, ran, ended] = await pipelined(client, [`BEGIN; SET LOCAL statement_timeout = ${ms}`, call, 'COMMIT'], (res) => {
      // As soon as the group's rows are in, before COMMIT's answer is looked at (as commitDone did right before
      // COMMIT): a lease renewal that finds a row finished from then on finds its job recorded, not lost.
      for (const r of res.rows as Row[]) if (r.outcome === 'done' && r.job_id !== null) byJob.get(r.job_id)?.ctx.lease?.doneWritten(true);
    });
    const failure = begun!.status === 'rejected' ? begun!.reason : ran!.status === 'rejected' ? ran!.reason
      : ended!.status === 'rejected' ? ended!.reason
      : ended!.value.command !== 'COMMIT' ? new Error(`the transaction of ${live.length} ERP action(s) ended in ${ended!.value.command}`) : null;
    if (failure !== null) {
      for (const j of live) j.ctx.lease?.doneWritten(false);
      if ((client as unknown as { getTransactionStatus?: () => string | null }).getTransactionStatus?.() !== 'I') await client.query('ROLLBACK').catch(() => undefined);
      return this.groupFailed(group, live, failure);
    }
    const rows = (ran as PromiseFulfilledResult<pg.QueryResult<Row>>).value.rows;
    // Nothing ran: the mapping changed since it was read.
    if (rows[0]?.outcome === 'stale') return this.stale(client, live);
    const byId = new Map(rows.map((r) => [r.job_id, r]));
    for (const [i, j] of live.entries()) {
      // Stopped meanwhile (settled already): its outcome is the executor's.
      if (j.state !== 'sent') continue;
      const r = byId.get(j.ctx.job.batch_id);
      if (!r) {
        this.settle(j, new PermanentError(`job ${j.ctx.job.batch_id}: no outcome from xtbatch.xtconnect_run_actions`));
        continue;
      }
      this.measured(j.m.action, r.elapsed_us);
      if (r.outcome === 'done') {
        this.settle(j, null, r.job_result!);
      } else if (r.outcome === 'fenced') {
        j.ctx.log.warn(`rolled back the call of ${j.m.signature}: ${r.err_message}`);
        this.settle(j, new LeaseLostError(r.err_message ?? `job ${j.ctx.job.batch_id}: lease lost`));
      } else if (i > 0) {
        // Perhaps because of the jobs before it in this transaction: once more, alone (this run was rolled back).
        groupStats.rerunAlone++;
        j.alone = true;
        this.enqueue(j, true);
      } else {
        this.settle(j, await this.callError(client, j, r));
      }
    }
  }

  /** The job's own failure, as the job's outcome (src/errors.ts); a bad value names its parameter. */
  private async callError(client: Client, j: ErpJob, r: Row): Promise<unknown> {
    const err = Object.assign(new Error(r.err_message ?? 'unknown error'), { code: r.err_code ?? undefined });
    if (r.err_code?.startsWith('22')) {
      let bad: Awaited<ReturnType<typeof badArgument>>;
      try {
        bad = await badArgument(client, j.m, j.values);
      } catch (e) {
        return e;
      }
      if (bad) {
        const s = j.m.specs[bad.index]!;
        return new JobInputError(j.ctx.job.batch_id, `parameter "${s.param}"`,
          `is ${JSON.stringify(j.values[bad.index])}, which is not a valid ${j.m.types[bad.index]!.sql} for argument ${bad.index + 1} of ${j.m.signature}: ${bad.message}`);
      }
    }
    // The function may have been dropped, replaced or revoked without a change of xtbatch.action.
    forgetAction(this.pool, j.m.action);
    return limitedDbFailure(`function ${j.m.fnName}`, err);
  }

  /** The statement or its transaction failed as a whole: nothing of the group committed. */
  private groupFailed(group: Group, live: ErpJob[], err: unknown): void {
    const code = (err as { code?: string }).code;
    const left = live.filter((j) => j.state === 'sent');
    if (group.cancelling) {
      // Cancelled for a member that was stopped (already settled): the others go again.
      groupStats.resent += left.length;
      for (const j of left.reverse()) this.enqueue(j, true);
      return;
    }
    if (live.length > 1 && !isOutage(err)) {
      // A statement timeout of the group (the shortest of its jobs' timeouts), or anything else that failed the
      // whole statement: whose? Each goes again alone, with its own timeout; nothing of this run committed.
      groupStats.rerunAlone += left.length;
      for (const j of left.reverse()) {
        j.alone = true;
        this.enqueue(j, true);
      }
      return;
    }
    for (const j of left) {
      const e = limitedDbFailure(`function ${j.m.fnName}`, err);
      if (e instanceof PermanentError && code === '57014') {
        e.message += ` (its statement timeout is ${j.timeoutMs / 1000} s: raise action_timeout_seconds in xtbatch.action, or the job's timeout)`;
      }
      this.settle(j, e);
    }
  }

  /** xtbatch.action changed since the mapping was read: read it again, and send the jobs again. */
  private async stale(client: Client, live: ErpJob[]): Promise<void> {
    clearActionCache(this.pool);
    const fresh = new Map<string, Resolved | Error>();
    for (const j of live.reverse()) {
      if (j.state !== 'sent') continue;
      let m = fresh.get(j.m.action);
      if (!m) {
        m = await resolveMapping(client, this.pool, j.m.action, j.builtIns).catch((e: unknown) => (e instanceof Error ? e : new Error(errorMessage(e))));
        fresh.set(j.m.action, m);
      }
      if (m instanceof Error) {
        this.settle(j, m);
        continue;
      }
      try {
        j.values = bindArgs(j.ctx, m);
      } catch (err) {
        this.settle(j, err);
        continue;
      }
      j.m = m;
      j.stale++;
      this.enqueue(j, true);
    }
  }

  private measured(action: string, us: number): void {
    const prev = this.speed.get(action);
    this.speed.set(action, prev === undefined ? us : 0.8 * prev + 0.2 * us);
  }
}

/** Jobs that may share a transaction: the same daemon (the fence's owner) and the same mapping version. */
function groupKey(j: ErpJob): string {
  return `${j.ctx.lease?.owner ?? ''}\u0000${j.stale >= 2 ? '*' : j.m.version ?? ''}`;
}

const runners = new WeakMap<Pool, GroupRunner>();

/**
 * The pool's runner. At most two groups at once (and half the pool): one group's round trip and commit overlap
 * with the other's work; more made smaller groups and cost more CPU per job than they hid (bench/erpActions.ts,
 * 10,000 jobs: at concurrency 50, 3,952 jobs/s with two against 3,305 with four and 3,729 with one).
 */
export function groupRunner(pool: Pool): GroupRunner {
  let r = runners.get(pool);
  if (!r) {
    const max = (pool as unknown as { options?: { max?: number } }).options?.max ?? 10;
    runners.set(pool, (r = new GroupRunner(pool, Math.max(1, Math.min(2, Math.floor(max / 2))))));
  }
  return r;
}

/**
 * Sends `queries` in one write and waits for every answer: pg's pipeline mode (each query with its own Sync), on
 * only while these are out. The connection is this caller's alone and idle, so nothing else is in its queue.
 * `onSecond` sees the second query's result as soon as it arrives, before the later ones are looked at.
 */
async function pipelined(client: Client, queries: Array<string | pg.QueryConfig>, onSecond: (r: pg.QueryResult) => void): Promise<Array<PromiseSettledResult<pg.QueryResult>>> {
  const c = client as unknown as { pipeline: boolean; connection: { stream: { cork?: () => void; uncork?: () => void } } };
  const stream = c.connection.stream;
  c.pipeline = true;
  stream.cork?.();
  let pending: Array<Promise<pg.QueryResult>>;
  try {
    pending = queries.map((q) => client.query(q as pg.QueryConfig));
  } finally {
    stream.uncork?.();
  }
  void pending[1]?.then(onSecond, () => undefined);
  try {
    return await Promise.allSettled(pending);
  } finally {
    c.pipeline = false;
  }
}
