/** The job states and their sets are written once (src/core/states.ts); what the console and Lua read is generated from it. */
import fs from 'node:fs';
import path from 'node:path';
import { BUILTIN_TYPES } from '../../src/core/handlers';
import { JOB_TYPES } from '../../src/core/job';
import { JOB_STATES, STATE_SETS, statesScript, TRANSITIONS } from '../../src/core/states';
import { transitionsLua } from '../../src/store/lua-transitions';

const SRC = path.join(__dirname, '..', '..', 'src');
const STATES_MODULE = path.join('core', 'states.ts');
const CONSOLE_COPY = path.join('roles', 'api', 'public', 'states.js');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return /\.(ts|js|lua)$/.test(e.name) ? [p] : [];
  });
}

const STATE = JOB_STATES.join('|');
/** a state as a string ('DEAD', "DEAD") or as a Lua set's key (DEAD = true) */
const MENTION = new RegExp(`(['"\`])(${STATE})\\1|\\b(${STATE})\\s*=\\s*true\\b`, 'g');

/**
 * the lists of states a text spells: two or more states in one bracket ([...], {...}, (...)) with
 * no bracket between them, or joined by `|` (a type's union); each answered as its line and states
 */
export function stateLists(text: string): { line: number; states: string[] }[] {
  const mentions: { at: number; state: string; group: number }[] = [];
  const stack: number[] = [-1];
  const opens = '([{';
  const closes = ')]}';
  let next = 0;
  const found = [...text.matchAll(MENTION)].map((m) => ({ at: m.index, state: m[2] ?? m[3] }));
  for (let i = 0; i < text.length; i++) {
    while (next < found.length && found[next].at === i) {
      mentions.push({ ...found[next], group: stack[stack.length - 1] });
      next++;
    }
    if (opens.includes(text[i])) stack.push(i);
    else if (closes.includes(text[i]) && stack.length > 1) stack.pop();
  }
  const lineOf = (at: number) => text.slice(0, at).split('\n').length;
  const out = new Map<string, { line: number; states: Set<string> }>();
  const add = (key: string, at: number, states: string[]) => {
    const had = out.get(key) ?? { line: lineOf(at), states: new Set<string>() };
    for (const s of states) had.states.add(s);
    out.set(key, had);
  };
  const byGroup = new Map<number, typeof mentions>();
  for (const m of mentions) byGroup.set(m.group, [...(byGroup.get(m.group) ?? []), m]);
  for (const [group, ms] of byGroup) {
    // the mentions of one bracket that follow each other with nothing but a separator between (a list)
    for (let i = 1; i < ms.length; i++) {
      const between = text.slice(ms[i - 1].at, ms[i].at).replace(MENTION, '');
      if (group >= 0 && /^[\s,|]*$/.test(between) && ms[i - 1].state !== ms[i].state)
        add(`g${group}`, ms[i - 1].at, [ms[i - 1].state, ms[i].state]);
      else if (/^\s*\|\s*$/.test(between))
        add(`u${group}:${lineOf(ms[i - 1].at)}`, ms[i - 1].at, [ms[i - 1].state, ms[i].state]);
    }
  }
  return [...out.values()].map(({ line, states }) => ({ line, states: [...states] }));
}

test('no file under src/ but src/core/states.ts spells a list of job states (the console reads its generated copy)', () => {
  const spelled = files(SRC)
    .filter((f) => ![STATES_MODULE, CONSOLE_COPY].includes(path.relative(SRC, f)))
    .flatMap((f) =>
      stateLists(fs.readFileSync(f, 'utf8')).map(({ line, states }) => `${path.relative(SRC, f)}:${line} ${states}`),
    );
  expect(spelled).toEqual([]);
});

test('the scan finds a list however it is spelled: an array, a Set, a Lua set, a union', () => {
  expect(stateLists(`const A = ['SUCCESS', 'DEAD'];`)).toHaveLength(1);
  expect(stateLists(`new Set<JobState>(["PENDING", "STARTED"])`)).toHaveLength(1);
  expect(stateLists(`local X = { PENDING = true, RETRY = true }`)).toHaveLength(1);
  expect(stateLists(`type T = 'RETRY' | 'DEAD';`)).toHaveLength(1);
  expect(stateLists(`for _, s in ipairs({ 'SUCCESS', 'FAILURE', 'CANCELLED' }) do`)).toHaveLength(1);
  // one state at a time is not a list
  expect(stateLists(`if (a === 'STARTED') setState(id, 'PROGRESS');`)).toEqual([]);
  expect(stateLists(`f(k, 'PENDING') + f(k, 'STARTED')`)).toEqual([]);
});

test("the console's states.js is what src/core/states.ts generates (npm run gen:states)", () => {
  expect(fs.readFileSync(path.join(SRC, CONSOLE_COPY), 'utf8')).toBe(statesScript());
});

test("the scripts' tables are generated from the module: the transitions and every set", () => {
  const lua = transitionsLua();
  for (const from of JOB_STATES)
    expect(lua).toContain(`  ${from} = { ${TRANSITIONS[from].map((t) => `${t} = true`).join(', ')} },`);
  for (const [name, states] of Object.entries(STATE_SETS))
    expect(lua).toContain(`local ${name} = { ${states.map((s) => `${s} = true`).join(', ')} }`);
});

test('the built-in job types are written once', () => {
  expect(BUILTIN_TYPES).toBe(JOB_TYPES);
});
