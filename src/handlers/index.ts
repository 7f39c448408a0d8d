import { FALLBACK_ACTION, type Handler, type HandlerRegistry } from './types';
import { emailHandler } from './email';
import { makeErpActionHandler } from './erpAction';
import { analyzeHandler, reindexHandler, serverMaintenanceHandler, vacuumHandler } from './maintenance';
import { purgeHandler } from './purge';

export type { Handler, HandlerRegistry, JobContext, Services } from './types';
export { FALLBACK_ACTION } from './types';

/**
 * A handler whose module (and what it needs: the report renderer, IMAP and mail parsing, FTP and SFTP clients)
 * is loaded by its first job, not at start: an idle daemon keeps none of it in memory (issue 17).
 */
function loadedOnUse(load: () => Handler): Handler {
  return (ctx) => load()(ctx);
}
/* eslint-disable @typescript-eslint/no-require-imports */
const runReportHandler = loadedOnUse(() => (require('./report') as typeof import('./report')).runReportHandler);
const emailSyncHandler = loadedOnUse(() => (require('./emailSync') as typeof import('./emailSync')).emailSyncHandler);
const uploadHandler = loadedOnUse(() => (require('./transfer') as typeof import('./transfer')).uploadHandler);
const downloadHandler = loadedOnUse(() => (require('./transfer') as typeof import('./transfer')).downloadHandler);
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * batch_action → handler. Action names are xTuple's. Any other action goes to the fallback, which runs it when
 * xtbatch.action maps it to a database function (the ERP's own actions: PostInvoices, CreateRecurringInvoices, ...).
 */
export function defaultHandlers(extra: Record<string, Handler> = {}): HandlerRegistry {
  const registry = new Map<string, Handler>([
    ['Email', emailHandler],
    ['EmailSync', emailSyncHandler],
    ['Purge', purgeHandler],
    ['FileUpload', uploadHandler],
    ['FileDownload', downloadHandler],
    ['ServerMaintenance', serverMaintenanceHandler],
    ['Vacuum', vacuumHandler],
    ['Analyze', analyzeHandler],
    ['Reindex', reindexHandler],
    ['RunReport', runReportHandler],
  ]);
  registry.set(FALLBACK_ACTION, makeErpActionHandler(() => [...registry.keys()].filter((k) => k !== FALLBACK_ACTION)));
  for (const [k, v] of Object.entries(extra)) registry.set(k, v);
  return registry;
}
