/**
 * The route table: every route the API serves, one declared object each (route.ts), gathered
 * from one file per resource. The app mounts it; the OpenAPI document, the access gate's rule
 * and the 405/Allow table are read from it. A new resource (flows, say) is a file here beside
 * the others and one line below.
 */
import { needOf, type Need, type Route } from '../route';
import { abacusRoutes } from './abacus';
import { botRoutes } from './bots';
import { compatRoutes } from './compat';
import { consoleRoutes } from './console';
import { datalakeRoutes } from './datalake';
import { queueLimitRoutes } from './queue-limits';
import { deadLetterRoutes } from './dead-letters';
import { docsRoutes } from './docs';
import { healthRoutes } from './health';
import { jobRoutes } from './jobs';
import { jobBulkRoutes } from './jobs-bulk';
import { metricsRoutes } from './metrics';
import { queueRoutes } from './queues';
import { scheduleRoutes } from './schedules';

export const ROUTES: readonly Route[] = [
  ...healthRoutes,
  ...metricsRoutes,
  ...docsRoutes,
  ...compatRoutes,
  ...jobRoutes,
  ...jobBulkRoutes,
  ...queueRoutes,
  ...queueLimitRoutes,
  ...botRoutes,
  ...datalakeRoutes,
  ...abacusRoutes,
  ...deadLetterRoutes,
  ...scheduleRoutes,
  ...consoleRoutes,
];

/** what a request needs of its caller, by the table (route.ts needOf) */
export const routeNeed = (method: string, path: string): Need => needOf(ROUTES, method, path);
