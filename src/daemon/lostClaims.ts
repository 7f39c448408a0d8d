import type { Pool } from '../db/pool';
import { nextLeaseToken } from '../db/queries/batch';
import { putBackLostClaims } from '../db/queries/lostAnswers';
import type { Logger } from '../log';

/** Tokens kept at most; older ones are left to the rescue at their lease's expiry, as before this existed. */
const KEPT = 1000;

/**
 * Claims whose answer never reached the daemon. A claim is one autocommit statement: when the connection breaks
 * after the server committed it and before its rows arrived (a database restart, a network cut), those rows are
 * marked running under this daemon's name with a fencing token that nobody holds. Left alone they wait out the whole
 * lease, and the rescue then counts the attempt and writes "stopped responding" on jobs that never ran (a job
 * allowed one attempt would fail). So the daemon remembers the token of every claim that failed and, once the
 * database answers again, before it claims anything else, puts back what that claim took: due again at once, the
 * attempt not counted. A claim that failed before the server ran it took nothing, and putting it back changes
 * nothing.
 */
export class LostClaims {
  private tokens: string[] = [];

  constructor(
    private readonly pool: Pool,
    private readonly owner: string,
    private readonly log: Logger,
  ) {}

  /**
   * Runs a claim with a fresh token, after putting back what failed claims took (so those jobs run again at once,
   * not at their lease's expiry); remembers the token when the claim fails.
   */
  async claim<T>(run: (token: string) => Promise<T>): Promise<T> {
    if (this.tokens.length > 0) await this.putBack();
    const token = nextLeaseToken();
    try {
      return await run(token);
    } catch (err) {
      // Its answer, if the server sent one, was lost.
      this.tokens.push(token);
      if (this.tokens.length > KEPT) this.tokens.shift();
      throw err;
    }
  }

  /** Puts back the rows of every failed claim; throws (keeping the tokens) while the database does not answer. */
  private async putBack(): Promise<void> {
    const sent = new Set(this.tokens);
    const ids = await putBackLostClaims(this.pool, this.owner, [...sent]);
    this.tokens = this.tokens.filter((t) => !sent.has(t));
    if (ids.length > 0) {
      this.log.warn(`job(s) ${ids.join(', ')} put back: a claim took them, but the connection broke before its answer ` +
        'reached this daemon; they are due again and their attempt is not counted', { scope: 'daemon' });
    }
  }
}
