/**
 * Methods: a path the app serves, asked with a method it does not serve, is a
 * 405 whose `Allow` lists the methods it does serve; `OPTIONS` answers that `Allow` (204). Both
 * are read from the route table the app mounts (routes/index.ts), so they cannot drift from the routes.
 *
 * Of the route patterns that match a path, only the most literal ones count: `/bots/register`
 * is the registration route's alone, never `/bots/:id`'s too, so `DELETE /bots/register` is a
 * 405 (Allow: POST), not an attempt to delete a bot called "register" (Express's own OPTIONS
 * answer lumps them together). The check runs before the routes, so a literal path shadows the
 * parameterised routes beside it for every method.
 */
import type { Express, RequestHandler } from 'express';
import { WizardError } from '../../core/errors';
import { compile, paramCount, type Route } from './route';

export { compile };

/** one entry of Express's router stack: a route, or a router mounted with its own stack */
interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** every route of an Express app, as [METHOD, path] (the docs check and the fuzz tests read it too) */
export function listRoutes(app: Express): [string, string][] {
  const out: [string, string][] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) for (const m of Object.keys(layer.route.methods)) out.push([m.toUpperCase(), layer.route.path]);
      else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}

interface Pattern {
  re: RegExp;
  /** how many `:param` segments: fewer is more literal */
  params: number;
  methods: Set<string>;
}

/** a table of routes ([METHOD, Express path]): every path pattern with its methods (GET implies HEAD) */
export function routeTable(routes: Iterable<readonly [string, string]>): Pattern[] {
  const byPath = new Map<string, Set<string>>();
  for (const [method, path] of routes) {
    const set = byPath.get(path) ?? new Set<string>();
    set.add(method);
    if (method === 'GET') set.add('HEAD');
    byPath.set(path, set);
  }
  return [...byPath].map(([path, methods]) => ({
    re: compile(path),
    params: paramCount(path),
    methods,
  }));
}

/** the app's route table, and extra GET-only paths (the dashboard's files) */
export function methodTable(app: Express, getPaths: Iterable<string> = []): Pattern[] {
  return routeTable([...listRoutes(app), ...[...getPaths].map((p) => ['GET', p] as const)]);
}

/** the methods a path is served with (OPTIONS included), or null when no route has the path */
export function allowedMethods(table: Pattern[], path: string): string[] | null {
  const matching = table.filter((p) => p.re.test(path));
  if (matching.length === 0) return null;
  const fewest = Math.min(...matching.map((p) => p.params));
  const methods = new Set<string>(['OPTIONS']);
  for (const p of matching) if (p.params === fewest) p.methods.forEach((m) => methods.add(m));
  return [...methods].sort();
}

/** 405 with Allow for a method a path is not served with; OPTIONS answered with Allow */
export function methodGate(routes: readonly Route[], getPaths: Iterable<string> = []): RequestHandler {
  const table = routeTable([
    ...routes.map((r) => [r.method, r.path] as const),
    ...[...getPaths].map((p) => ['GET', p] as const),
  ]);
  return (req, res, next) => {
    const allowed = allowedMethods(table, req.path);
    if (!allowed) return next();
    const allow = allowed.join(', ');
    if (req.method === 'OPTIONS') {
      res.set('Allow', allow).status(204).end();
      return;
    }
    if (allowed.includes(req.method)) return next();
    res.set('Allow', allow);
    next(new WizardError('method_not_allowed', `${req.method} is not allowed on ${req.path}: allowed are ${allow}`));
  };
}
