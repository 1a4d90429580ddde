/** Who called: the principal the access gate named (access-gate.ts), read by the routes. */
import type { Response } from 'express';
import type { Principal } from '../../core/tokens';

/** who called, as the access gate named them; undefined with API tokens off (an open API names nobody) */
export const callerOf = (res: Response): Principal | undefined => res.locals.principal as Principal | undefined;
