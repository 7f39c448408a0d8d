import type { Config } from '../config';
import type { BatchRow } from '../db/queries/batch';
import { retryDelaySeconds } from './backoff';

/** How long, and how many times, a transient failure of one job is retried. */
export interface RetryRule {
  periodSeconds: number;
  /** null: no attempt limit, the period alone decides. */
  maxAttempts: number | null;
}

/**
 * The job's own batch_max_attempts, else `retry.<action>`, else daemon.retryPeriod and daemon.maxAttempts.
 * A maxAttempts of 0 in `retry.<action>` means no attempt limit (Email by default: 48 hours, like a mail server).
 */
export function retryRule(cfg: Config, job: BatchRow): RetryRule {
  const perAction = cfg.retry?.[job.batch_action] ?? {};
  const count = job.batch_max_attempts ?? perAction.maxAttempts ?? cfg.daemon.maxAttempts;
  return {
    periodSeconds: perAction.periodSeconds ?? cfg.daemon.retryPeriodSeconds ?? 3600,
    maxAttempts: count > 0 ? count : null,
  };
}

export type RetryDecision =
  | { kind: 'retry'; delaySeconds: number; message: string }
  | { kind: 'failed'; message: string };

/** "48 h", "90 min", "30 s": how long the period is, for the sentences in the job row. */
export function formatPeriod(seconds: number): string {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${Math.round(seconds)} s`;
}

/** The earlier errors of the series (from the row), appended to the final message: why it failed, over time. */
function history(job: BatchRow): string {
  const h = job.error_history ?? [];
  if (h.length === 0) return '';
  return `; earlier: ${h.map((e) => `[${e.at}] ${e.error}`).join('; ')}`;
}

/**
 * After a transient failure of attempt `job.batch_attempts`: retry with capped exponential backoff and jitter while
 * the retry period (measured from the first failure of the series, by the server's clock) lasts and attempts are
 * left; else fail with the history. The last retry is timed to land at the end of the period, not after it.
 */
export function decideRetry(cfg: Config, job: BatchRow, error: string, ranMs: number, random: () => number = Math.random): RetryDecision {
  const rule = retryRule(cfg, job);
  const attempt = job.batch_attempts;
  // Null on the first failure: the series starts now (the run itself is part of it).
  const elapsed = (job.retrying_for_seconds ?? 0) + ranMs / 1000;
  if (rule.maxAttempts !== null && attempt >= rule.maxAttempts) {
    return { kind: 'failed', message: `gave up after ${attempt} attempts; last error: ${error}${history(job)}` };
  }
  const left = rule.periodSeconds - elapsed;
  if (left <= 0) {
    return { kind: 'failed', message: `gave up after retrying for ${formatPeriod(rule.periodSeconds)} (${attempt} attempts); last error: ${error}${history(job)}` };
  }
  const backoff = retryDelaySeconds(attempt, cfg.daemon.backoffBaseSeconds, cfg.daemon.backoffMaxSeconds, random);
  const delaySeconds = Math.min(backoff, left);
  const message = rule.maxAttempts !== null
    ? `attempt ${attempt} of ${rule.maxAttempts} failed: ${error}`
    : `attempt ${attempt} failed (retrying for up to ${formatPeriod(rule.periodSeconds)}): ${error}`;
  return { kind: 'retry', delaySeconds, message };
}
