import { FALLBACK_ACTION, type Handler, type HandlerRegistry } from './types';
import { emailHandler } from './email';
import { emailSyncHandler } from './emailSync';
import { makeErpActionHandler } from './erpAction';
import { analyzeHandler, reindexHandler, serverMaintenanceHandler, vacuumHandler } from './maintenance';
import { purgeHandler } from './purge';
import { runReportHandler } from './report';
import { downloadHandler, uploadHandler } from './transfer';

export type { Handler, HandlerRegistry, JobContext, Services } from './types';
export { FALLBACK_ACTION } from './types';

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
