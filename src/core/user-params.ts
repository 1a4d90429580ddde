/**
 * A loaded type's params, checked by its JSON Schema: the validators user-types.ts compiled (with
 * ajv) when the module was loaded. Kept apart so what only checks params loads no compiler.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ValidationError } from './errors';
import { specFor } from './handlers';

const validators = new Map<string, ValidateFunction>();

export function setValidator(type: string, validate: ValidateFunction): void {
  validators.set(type, validate);
}

/** ajv's error as `params.<path>` and its message */
function paramsError(e: ErrorObject, prefix: string): { field: string; message: string } {
  const missing = e.keyword === 'required' ? `/${(e.params as { missingProperty: string }).missingProperty}` : '';
  return { field: `${prefix}${`${e.instancePath}${missing}`.replace(/\//g, '.')}`, message: e.message ?? 'is invalid' };
}

/** a loaded type's params, or a ValidationError `<prefix>.<path>: <message>` (e.g. params.text: must be string) */
export function checkUserParams(type: string, params: unknown, prefix = 'params'): Record<string, unknown> {
  const validate = validators.get(type);
  if (!validate || !specFor(type)?.user) throw new Error(`type ${type} is not a loaded type`);
  if (validate(params)) return params as Record<string, unknown>;
  const details = (validate.errors ?? []).map((e) => paramsError(e, prefix));
  const first = details[0] ?? { field: prefix, message: 'is invalid' };
  throw new ValidationError(`${first.field}: ${first.message}`, details);
}
