/**
 * What the API answers, as the CLI reads it: the types of the very response schemas the routes
 * answer through (src/roles/api/responses.ts), so a field the API renames is a compile error
 * here too. Types only: the CLI loads no schema at run time.
 */
import type { z } from 'zod';
import type { RESPONSES } from '../roles/api/responses';

/** the body of a named answer: Reply<'job'> is what GET /jobs/:id sends */
export type Reply<N extends keyof typeof RESPONSES> = z.output<(typeof RESPONSES)[N]>;
