import type { Handler, HandlerRegistry } from './types';
import { emailHandler } from './email';
import { purgeHandler } from './purge';

export type { Handler, HandlerRegistry, JobContext, Services } from './types';

/** batch_action → handler. Action names are xTuple's. */
export function defaultHandlers(extra: Record<string, Handler> = {}): HandlerRegistry {
  return new Map<string, Handler>([
    ['Email', emailHandler],
    ['Purge', purgeHandler],
    ...Object.entries(extra),
  ]);
}
