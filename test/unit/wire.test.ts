/** The wire format lives in src/store/wire.ts: the scripts read its layouts and codes by name, never by number. */
import fs from 'node:fs';
import path from 'node:path';
import { LAKE_ENTRY_FIELDS } from '../../src/core/datalake';
import { library, SCRIPT_NAMES, scripts } from '../../src/store/scripts';
import {
  CLAIM,
  CLAIM_READ,
  CODE,
  COMPLETION,
  inlineLayouts,
  LAYOUTS,
  LOAD,
  luaConstants,
  ROW,
} from '../../src/store/wire';

const dir = path.join(__dirname, '../../src/store/lua');
const sources = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.lua'))
  .map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')] as const);
/** the code of a script, its comments left out */
const code = (src: string) => src.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/--.*$/gm, '');

test('the generated block names every layout position and every code', () => {
  const lua = luaConstants();
  expect(lua).toContain(`-- ROW: ${ROW.map((f, i) => `${f} ${i + 1}`).join(', ')}`);
  expect(lua).toContain(`local ROW_SIZE = ${ROW.length}`);
  expect(lua).toContain(`local COMPLETION_SIZE = ${COMPLETION.length}`);
  expect(lua).toContain(`local CLAIM_SIZE = ${CLAIM.length}`);
  expect(lua).toContain(`local LOAD_SIZE = ${LOAD.length}`);
  expect(lua).toContain(`local LAKE_SIZE = ${LAKE_ENTRY_FIELDS.length}`);
  expect(lua).toContain(`local ${Object.keys(CODE).join(', ')} = ${Object.values(CODE).join(', ')}`);
  expect(CLAIM_READ).toEqual([
    'state',
    'attempts',
    'type',
    'params',
    'max_attempts',
    'parent_id',
    'created_at',
    'initiated_by',
    'timeout_ms',
  ]); // a flow node's deps are read only for a flow node's id (lib.lua's isFlowNode)
});

test('every script and the library start with the generated block (after the shebang and the locals KEYS, ARGV), their layout names replaced by positions, and its SHA is the same each time it is built', () => {
  const all = scripts();
  for (const source of [...SCRIPT_NAMES.map((name) => all[name].source), library().source]) {
    expect(source.split('\n').slice(2).join('\n').startsWith(inlineLayouts(luaConstants()))).toBe(true);
    expect(source.match(new RegExp(`\\b(${Object.keys(LAYOUTS).join('|')})\\.[a-z]`, 'g'))).toBeNull();
  }
  expect(inlineLayouts('ARGV[at + ROW.type], v[CLAIM.token], LAKE.finished_at, K.job(id)')).toBe(
    `ARGV[at + ${ROW.indexOf('type') + 1}], v[${CLAIM.indexOf('token') + 1}], ${LAKE_ENTRY_FIELDS.length}, K.job(id)`,
  );
  expect(() => inlineLayouts('ROW.colour')).toThrow('the layout ROW has no field colour');
});

test.each(sources)("%s opens no [[ inside a long comment (Redis's own Lua refuses to compile it)", (_file, src) => {
  // the Lua built into Redis (the official image's) reads a nested [[ as an error, "nesting of
  // [[...]] is deprecated"; Debian's system Lua allows it, so only this test would tell
  for (const comment of src.match(/--\[\[[\s\S]*?\]\]/g) ?? []) expect(comment.slice(4)).not.toContain('[[');
});

test.each(sources)('%s spells no layout position and no result code by number', (_file, src) => {
  const c = code(src);
  // a row's or a completion's field at a fixed offset, a claim's value by index
  expect(c.match(/ARGV\[\s*(at|from)\s*\+\s*\d+\s*\]/g)).toBeNull();
  expect(c.match(/\b(v|entry)\[\s*\d+\s*\]/g)).toBeNull();
  // the layouts' sizes and the codes are generated, never defined here
  expect(c.match(/\blocal\s+(ROW|COMPLETION|CLAIM|CLAIM_ARGS|LOAD|LAKE|PLAIN_ROW)(_SIZE)?\s*=/g)).toBeNull();
  expect(c.match(new RegExp(`\\blocal\\s+(${Object.keys(CODE).join('|')})\\b\\s*[=,]`, 'g'))).toBeNull();
  // a negative number is a code: it is returned or compared by name
  expect(c.match(/(return|==|~=|\{)\s*-\d/g)).toBeNull();
});
