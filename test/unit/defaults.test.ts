/** docs/configuration.md's table shows the defaults src/core/defaults.ts holds. */
import fs from 'node:fs';
import path from 'node:path';
import { FLAG_DEFAULTS } from '../../src/core/defaults';

const DOC = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');

/** the table's rows: the flag (its first one, without the argument) → the default cell's first `value` */
function documentedDefaults(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of DOC.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const flag = /^`(--[\w-]+)[^`]*`( \(\w+\))?$/.exec(cells[1] ?? '');
    if (!flag || flag[2]) continue; // a role's own variant of a flag (`--queue <name>` (bot)) is not the default's row
    const value = /`([^`]+)`/.exec(cells[3] ?? '');
    if (value && !out.has(flag[1])) out.set(flag[1], value[1]);
  }
  return out;
}

test('every default in src/core/defaults.ts is the one docs/configuration.md shows for its flag', () => {
  const documented = documentedDefaults();
  const shown = Object.fromEntries(Object.keys(FLAG_DEFAULTS).map((flag) => [flag, documented.get(flag)]));
  expect(shown).toEqual(Object.fromEntries(Object.entries(FLAG_DEFAULTS).map(([flag, v]) => [flag, String(v)])));
});
