import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { BatchRow } from '../db/queries/batch';
import { JobInputError } from '../errors';
import { endpointFromEdiProfile, type EdiProfileOptions, type Endpoint } from './endpoints';

/**
 * The endpoint a job names: the config file's `endpoints:` first (so an administrator can override an ERP
 * profile, or give it the SFTP host key a profile cannot hold), then xTuple's FTP EDI profiles.
 */
export async function resolveEndpoint(ctx: { cfg: Pick<Config, 'source' | 'endpoints' | 'ediProfiles'>; pool: Pick<Pool, 'query'>; job: Pick<BatchRow, 'batch_id'> }, name: string): Promise<Endpoint> {
  const configured = (ctx.cfg as { endpoints?: Endpoint[] }).endpoints ?? [];
  const hit = configured.find((e) => e.name === name) ?? configured.find((e) => e.name.toLowerCase() === name.toLowerCase());
  if (hit) return hit;
  const profile = await endpointFromEdiProfile(ctx.pool, name, process.env, (ctx.cfg as { ediProfiles?: Record<string, EdiProfileOptions> }).ediProfiles ?? {});
  if (profile) return profile;
  const known = configured.map((e) => e.name);
  throw new JobInputError(ctx.job.batch_id, 'parameter "endpoint"',
    `names "${name}", which is neither an endpoint of ${ctx.cfg.source} (${known.length ? `it has ${known.join(', ')}` : 'it defines none'}) ` +
    'nor an FTP EDI profile in xtbatch.ediprofile');
}
