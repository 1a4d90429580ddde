/**
 * The OpenAPI document as a test oracle (issue 14, item 6): checkAnswer() says whether a real
 * answer is one the document promises for its operation (the status is listed, the content type
 * is one of the listed ones, the body validates against the listed schema with ajv's JSON Schema
 * 2020-12 validator and ajv-formats, required headers are present and valid), and valid() /
 * invalid() draw inputs from the document's own parameter and body schemas, for the fuzz tests.
 */
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { openApiDocument, toOpenApiPath } from '../../src/roles/api/openapi';

export type Schema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  default?: unknown;
  $ref?: string;
};
export interface Parameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema: Schema;
}
interface Response {
  description: string;
  headers?: Record<string, { required?: boolean; schema: Schema }>;
  content?: Record<string, { schema: Schema }>;
}
export interface Operation {
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: { 'application/json': { schema: Schema } } };
  responses: Record<string, Response>;
  security?: unknown[];
}
export interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

export const DOC = openApiDocument() as unknown as Doc;

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'wizard', $defs: DOC.components.schemas });
const compiled = new Map<string, ValidateFunction>();

/** a validator for a schema of the document (its #/components/schemas refs resolved) */
export function validatorOf(schema: Schema): ValidateFunction {
  const text = JSON.stringify(schema).replace(/"#\/components\/schemas\//g, '"wizard#/$defs/');
  let v = compiled.get(text);
  if (!v) compiled.set(text, (v = ajv.compile(JSON.parse(text) as object)));
  return v;
}

export function operationOf(key: string): Operation {
  const [method, route] = key.split(' ');
  const op = DOC.paths[toOpenApiPath(route)]?.[method.toLowerCase()];
  if (!op) throw new Error(`the document has no operation ${key}`);
  return op;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** what is wrong with this answer to operation `key` by the document; [] when nothing */
export function checkAnswer(key: string, a: Answer): string[] {
  const r = operationOf(key).responses[String(a.status)];
  if (!r)
    return [
      `${key}: status ${a.status} is not listed (listed: ${Object.keys(operationOf(key).responses).join(', ')}): ${a.text.slice(0, 200)}`,
    ];
  const out: string[] = [];
  for (const [name, h] of Object.entries(r.headers ?? {})) {
    const value = a.headers.get(name);
    if (value === null) {
      if (h.required) out.push(`${key} ${a.status}: no ${name} header`);
      continue;
    }
    const typed = h.schema.type === 'integer' || h.schema.type === 'number' ? Number(value) : value;
    if (!validatorOf(h.schema)(typed))
      out.push(`${key} ${a.status}: header ${name}: ${value} does not match ${JSON.stringify(h.schema)}`);
  }
  if (!r.content) {
    if (a.text !== '') out.push(`${key} ${a.status}: a body where none is listed: ${a.text.slice(0, 100)}`);
    return out;
  }
  const type = (a.headers.get('content-type') ?? '').split(';')[0].trim();
  const media = r.content[type];
  if (!media)
    return [...out, `${key} ${a.status}: content type '${type}' is not listed (${Object.keys(r.content).join(', ')})`];
  let body: unknown = a.text;
  if (type === 'application/json') {
    try {
      body = JSON.parse(a.text);
    } catch {
      return [...out, `${key} ${a.status}: not JSON: ${a.text.slice(0, 100)}`];
    }
  }
  const validate = validatorOf(media.schema);
  if (!validate(body)) out.push(`${key} ${a.status}: ${ajv.errorsText(validate.errors)}: ${a.text.slice(0, 300)}`);
  return out;
}

/** fetch and check: the answer and what is wrong with it */
export async function call(
  key: string,
  base: string,
  path: string,
  init: RequestInit = {},
): Promise<Answer & { problems: string[]; json: unknown }> {
  const res = await fetch(base + path, { method: key.split(' ')[0], ...init, signal: AbortSignal.timeout(10_000) });
  const a = { status: res.status, headers: res.headers, text: await res.text() };
  let json: unknown = null;
  try {
    json = JSON.parse(a.text);
  } catch {
    /* not JSON */
  }
  return { ...a, json, problems: checkAnswer(key, a) };
}

// ---- inputs drawn from the document's schemas ----

export type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const typeOf = (s: Schema): string | undefined => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type);

/** a real calendar day (the date format), 1970-2099 */
function validDay(r: Rand): string {
  const d = new Date(Date.UTC(int(r, 1970, 2099), 0, 1) + int(r, 0, 364) * 86_400_000);
  return d.toISOString().slice(0, 10);
}

/** a value the schema accepts */
export function valid(r: Rand, s: Schema): unknown {
  if (s.const !== undefined) return s.const;
  if (s.enum) return pick(r, s.enum);
  if (s.anyOf) return valid(r, pick(r, s.anyOf));
  switch (typeOf(s)) {
    case 'integer': {
      const lo = s.minimum ?? -1e6;
      const hi = s.maximum ?? 1e6;
      return pick(r, [lo, hi, int(r, Math.max(lo, -1e6), Math.min(hi, 1e6))]);
    }
    case 'number':
      return pick(r, [0, -1.5, 2, 1e300, -1e-300, r() * 1000]);
    case 'boolean':
      return r() < 0.5;
    case 'string': {
      if (s.format === 'date') return validDay(r);
      const n = int(r, s.minLength ?? 1, Math.min(s.maxLength ?? 24, 24));
      return Array.from({ length: n }, () => pick(r, 'abcxyz019-_'.split(''))).join('');
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, p] of Object.entries(s.properties ?? {}))
        if (s.required?.includes(k) || r() < 0.6) out[k] = valid(r, p);
      return out;
    }
    case 'array':
      return s.items ? [valid(r, s.items)] : [];
    default:
      return pick(r, [1, 'x', null, { k: [1] }]);
  }
}

const ODD: unknown[] = [
  null,
  true,
  '',
  'x',
  '🧙‍♂️',
  'a'.repeat(300),
  [],
  [1],
  {},
  { n: 1 },
  '\u0000',
  '１２',
  1.5,
  -1,
  1e308,
];

/** values the schema refuses (empty when it accepts anything) */
export function invalid(s: Schema): unknown[] {
  if (s.anyOf) return ODD.filter((v) => !validatorOf(s)(v));
  const out: unknown[] = [];
  const t = typeOf(s);
  if (s.enum || s.const !== undefined) out.push('not-one-of-these', 'ADD ', '');
  if (t === 'integer' || t === 'number') {
    if (s.minimum !== undefined) out.push(s.minimum - 1);
    if (s.maximum !== undefined) out.push(s.maximum + 1);
    if (t === 'integer') out.push(1.5, 2 ** 53);
    out.push('1', 'NaN', null, true, [], {});
  }
  if (t === 'string') {
    if (s.minLength) out.push('');
    if (s.maxLength !== undefined) out.push('x'.repeat(s.maxLength + 1));
    if (s.format === 'date') out.push('2026-02-30', '2026-13-01', '26-01-01', '2026-1-1', 'today');
    else if (s.pattern) out.push('bad value', '../x');
    out.push(1, null, [], {});
  }
  if (t === 'boolean') out.push('true', 1, null);
  if (t === 'object') out.push([], 'x', 1, null);
  // only what the schema really refuses: a schema may allow a neighbour of its bounds by its type alone
  return out.filter((v) => !validatorOf(s)(v));
}

/** a body the schema refuses: one field broken (a bad value, missing or unknown), or not an object */
export function invalidBody(r: Rand, s: Schema): { body: unknown; why: string } {
  const base = valid(r, s) as Record<string, unknown>;
  const fields = Object.entries(s.properties ?? {}).filter(([, p]) => invalid(p).length > 0);
  const ways = [
    ...(fields.length ? ['value'] : []),
    ...(s.required?.length ? ['missing'] : []),
    ...(s.additionalProperties === false ? ['unknown'] : []),
    'not-object',
  ];
  switch (pick(r, ways)) {
    case 'value': {
      const [k, p] = pick(r, fields);
      const v = pick(r, invalid(p));
      return { body: { ...base, [k]: v }, why: `${k}=${JSON.stringify(v)}` };
    }
    case 'missing': {
      const k = pick(r, s.required!);
      const { [k]: _gone, ...rest } = base;
      return { body: rest, why: `no ${k}` };
    }
    case 'unknown': {
      const k = pick(r, ['extra', '__proto__', 'constructor', '🧙']);
      return { body: { ...base, [k]: 1 }, why: `unknown field ${k}` };
    }
    default: {
      const v = pick(r, [[], 1, 'x', null, true, [base]]);
      return { body: v, why: `not an object: ${JSON.stringify(v).slice(0, 40)}` };
    }
  }
}

/** a query or path parameter's value as sent: text the parameter's schema accepts, or (bad) text it refuses */
export function paramText(r: Rand, s: Schema, bad = false): string {
  if (!bad) return String(valid(r, s));
  const t = typeOf(s);
  const candidates = s.enum
    ? ['not-one-of-these', 'ADD ', '', 'Pending', '🧙']
    : t === 'integer'
      ? [
          ...(s.minimum !== undefined ? [String(s.minimum - 1)] : []),
          ...(s.maximum !== undefined ? [String(s.maximum + 1)] : []),
          '1.5',
          'x',
          '',
          '1e3',
          '9'.repeat(30),
        ]
      : t === 'number'
        ? ['x', '', 'NaN', 'Infinity', '-Infinity', '1e999', '1,5', '🧙', '0x10']
        : s.format === 'date'
          ? ['2026-02-30', '2025-02-29', '2026-13-01', '26-01-01', '2026-1-1', 'today', '2026-03-10x']
          : s.minLength
            ? ['']
            : [];
  return candidates.length ? pick(r, candidates) : String(valid(r, s));
}

/** whether a parameter can be given a value its schema refuses */
export const refusable = (s: Schema): boolean =>
  Boolean(s.enum || typeOf(s) === 'integer' || typeOf(s) === 'number' || s.format === 'date');

/** a query string: every parameter valid (or absent when optional) but `broken`, which gets a refused value */
export function queryString(r: Rand, params: Parameter[], broken?: Parameter): string {
  const parts: string[] = [];
  for (const p of params) {
    if (p === broken) parts.push(`${p.name}=${encodeURIComponent(paramText(r, p.schema, true))}`);
    else if (p.required || r() < 0.6) parts.push(`${p.name}=${encodeURIComponent(paramText(r, p.schema))}`);
  }
  return parts.join('&');
}
