// Input checks for executors: a JSON schema per executor, compiled once. A job
// whose input fails is failed at once as invalid_input with ajv's message
// (field path and rule), never retried.
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { invalidInput } from '../providers/errors.ts';
import type { JsonObject } from '../executor.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ strict: false, allErrors: false }));

export function inputChecker<T>(schema: object): (input: JsonObject) => T {
  const validate = ajv.compile(schema);
  return (input) => {
    if (!validate(input)) throw invalidInput(ajv.errorsText(validate.errors, { dataVar: 'input' }));
    return input as T;
  };
}
