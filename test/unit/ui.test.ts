/** The CLI's output: relative times, ids shortened as git does, tables that fit the terminal, NO_COLOR. */
import {
  ago,
  createUi,
  cutLine,
  duration,
  fitWidths,
  outputColumns,
  plural,
  shortIds,
  wrapLine,
} from '../../src/client/ui';
import { describe as liveLine } from '../../src/client/watch';
import { createLogger } from '../../src/util/log';
import { jsonPrintable, printable, printableStyled } from '../../src/util/printable';

/** a bot's name that sets the window's title (OSC 0), rings, clears the screen, goes back to the line's start and sends a C1 CSI */
const HOSTILE = 'evil\u001b]0;pwned\u0007\u001b[2J\rok\u009b31m\u007f';
const SHOWN = 'evil\\x1b]0;pwned\\x07\\x1b[2J\\rok\\x9b31m\\x7f';
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

test('control characters from data are shown escaped, not obeyed; tab and newline stay unless on one line', () => {
  expect(printable(HOSTILE)).toBe(SHOWN);
  expect(printable('a\tb\nc')).toBe('a\tb\nc');
  expect(printable('a\tb\nc', { oneLine: true })).toBe('a\\tb\\nc');
  expect(printable('ünïcödé ✓ 数')).toBe('ünïcödé ✓ 数');
  // this program's colours stay where colour is on; a cursor move or a title never does
  expect(printableStyled(`\u001b[31mdown\u001b[39m ${HOSTILE}`, { keepColours: true })).toBe(
    `\u001b[31mdown\u001b[39m ${SHOWN}`,
  );
  expect(printableStyled('\u001b[31mdown\u001b[39m', { keepColours: false })).toBe('\\x1b[31mdown\\x1b[39m');
  // JSON already escapes C0; DEL and C1 become \u escapes, and it is still the same JSON
  const json = jsonPrintable(JSON.stringify({ name: HOSTILE }));
  expect(json).not.toMatch(RAW_CONTROL);
  expect(JSON.parse(json)).toEqual({ name: HOSTILE });
});

test('log lines, JSON or for a terminal, carry no raw control character', () => {
  const out: string[] = [];
  const spy = jest
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  const tty = process.stderr.isTTY;
  try {
    createLogger({ role: 'bot', node_id: HOSTILE }, 'info').info('registered', { name: HOSTILE });
    Object.assign(process.stderr, { isTTY: true });
    createLogger({ role: 'bot', node_id: HOSTILE }, 'info').info(`hello ${HOSTILE}`, { name: HOSTILE });
  } finally {
    Object.assign(process.stderr, { isTTY: tty });
    spy.mockRestore();
  }
  expect(out).toHaveLength(2);
  for (const line of out) expect(line.slice(0, -1)).not.toMatch(RAW_CONTROL);
  expect(JSON.parse(out[0])).toMatchObject({ node_id: HOSTILE, name: HOSTILE });
  expect(out[1]).toContain(`[bot ${SHOWN}] hello ${SHOWN} name=${SHOWN}`);
});

test.each([
  [0, '0s ago'],
  [59_400, '59s ago'],
  [265_000, '4m 25s ago'],
  [3_600_000 + 5 * 60_000 + 9_000, '1h 5m ago'],
  [2 * 86_400_000 + 4 * 3_600_000, '2d 4h ago'],
  [-5000, '0s ago'], // a clock ahead of ours
])('%d ms ago → %s', (ms, text) => {
  const now = Date.parse('2026-12-01T10:00:00Z');
  expect(ago(new Date(now - ms).toISOString(), now)).toBe(text);
});

test('plural: 1 day, 2 days, 0 records', () => {
  expect([plural(1, 'day'), plural(2, 'day'), plural(0, 'record')]).toEqual(['1 day', '2 days', '0 records']);
});

test('generated ids are cut to 8 characters after a type prefix, longer only where two would look alike; names stay whole', () => {
  const a = '5d0c1a2b-0000-4000-8000-000000000001';
  const b = '5d0c1a2b-9999-4000-8000-000000000002';
  const c = '77aa3b4c-1111-4000-8000-000000000003';
  expect(shortIds([c, 'bot-0f1e2d3c-aaaa-4000-8000-000000000000', c, 'w1', 'vm-14787-worker'])).toEqual(
    new Map([
      [c, '77aa3b4c'],
      ['bot-0f1e2d3c-aaaa-4000-8000-000000000000', 'bot-0f1e2d3c'],
      ['w1', 'w1'],
      ['vm-14787-worker', 'vm-14787-worker'],
    ]),
  );
  const ab = shortIds([a, b, c]);
  expect(ab.get(a)).toBe('5d0c1a2b-0');
  expect(ab.get(b)).toBe('5d0c1a2b-9');
  expect(ab.get(c)).toBe('77aa3b4c-1');
});

test('columns give way from the widest down to 8 characters, to fit the width', () => {
  expect(fitWidths([8, 30, 20], 80)).toEqual([8, 30, 20]);
  expect(fitWidths([8, 30, 20], 44)).toEqual([8, 16, 16]); // 8 + 16 + 16 and two gaps of 2
  expect(fitWidths([10, 10, 10], 10)).toEqual([8, 8, 8]); // no narrower: the terminal wraps
});

describe('on a terminal', () => {
  const saved = {
    isTTY: process.stdout.isTTY,
    columns: process.stdout.columns,
    NO_COLOR: process.env.NO_COLOR,
    TERM: process.env.TERM,
  };
  let out = '';
  let write: jest.SpyInstance;
  beforeEach(() => {
    out = '';
    Object.assign(process.stdout, { isTTY: true, columns: 40 });
    process.env.TERM = 'xterm';
    write = jest
      .spyOn(process.stdout, 'write')
      .mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  });
  afterEach(() => {
    write.mockRestore();
    Object.assign(process.stdout, { isTTY: saved.isTTY, columns: saved.columns });
    for (const k of ['NO_COLOR', 'TERM'] as const) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  test('an empty NO_COLOR keeps colour; any other value turns it off', () => {
    process.env.NO_COLOR = '';
    expect(createUi().c.red('x')).toBe('\u001b[31mx\u001b[39m');
    process.env.NO_COLOR = '1';
    expect(createUi().c.red('x')).toBe('x');
  });

  test('a table fits the terminal: short ids, the widest column cut with …', () => {
    process.env.NO_COLOR = '1';
    const id = '0c5f7a6e-3b7d-4c1e-9f7e-1d2c3b4a5f6e';
    createUi().table(['id', 'error', 'n'], [[id, 'x'.repeat(60), 1]], { ids: [0] });
    const lines = out.trimEnd().split('\n');
    expect(lines.map((l) => l.length <= 40)).toEqual([true, true]);
    expect(lines[1]).toMatch(/^0c5f7a6e  x+…  1$/);
    out = '';
    createUi({ wide: true }).table(['id'], [[id]], { ids: [0] });
    expect(out).toBe(`id\n${id}\n`);
  });

  test("a table and a line show a hostile name escaped, and keep the table's own colours", () => {
    process.env.NO_COLOR = '';
    Object.assign(process.stdout, { columns: 200 });
    const ui = createUi();
    ui.table(['name', 'status'], [[HOSTILE, ui.c.green('up')]]);
    ui.line(`bot ${HOSTILE} is ${ui.c.red('down')}`);
    expect(out.replace(/\u001b\[[0-9;]*m/g, '')).not.toMatch(RAW_CONTROL);
    expect(out).toContain(SHOWN);
    expect(out).toContain('\u001b[32mup\u001b[39m');
    expect(out).toContain(`bot ${SHOWN} is \u001b[31mdown\u001b[39m`);
  });
});

test.each([
  [600_000, '10 min'],
  [5_400_000, '1 h 30 min'],
  [2 * 86_400_000, '2 d'],
  [1500, '1 s 500 ms'],
  [250, '250 ms'],
  [0, '0 ms'],
])('duration(%d) → %s', (ms, text) => {
  expect(duration(ms)).toBe(text);
});

describe('lines fitted to a width', () => {
  const id = '48761e63-4be2-4894-993c-56663c39d58a';
  test('a long line is wrapped at spaces, the rest indented by two; each piece fits; nothing is lost', () => {
    const line = `SUCCESS wordcount ${id}: result {"words":3} by a-rather-long-node-name-for-this-test-worker in 918 ms`;
    const lines = wrapLine(line, 80);
    expect(lines).toEqual([
      `SUCCESS wordcount ${id}: result {"words":3} by`,
      '  a-rather-long-node-name-for-this-test-worker in 918 ms',
    ]);
    expect(lines.join('\n').replace(/\n {2}/g, ' ')).toBe(line);
  });
  test('a line that fits, its own indentation and a word longer than a line', () => {
    expect(wrapLine('  short', 80)).toEqual(['  short']);
    expect(wrapLine('  0  one two three four', 12, 5)).toEqual(['  0  one two', '     three', '     four']);
    expect(wrapLine(`x ${'y'.repeat(25)}`, 10)).toEqual(['x', '  yyyyyyyy', '  yyyyyyyy', '  yyyyyyyy', '  y']);
    for (const l of wrapLine(`x ${'y'.repeat(25)}`, 10)) expect(l.length).toBeLessThanOrEqual(10);
  });
  test('cut with … when it must stay one line', () => {
    expect(cutLine('abcdef', 6)).toBe('abcdef');
    expect(cutLine('abcdefg', 6)).toBe('abcde…');
  });
  test("the width: a terminal's, else $COLUMNS, else 80", () => {
    const saved = process.env.COLUMNS;
    try {
      delete process.env.COLUMNS;
      expect(outputColumns({ isTTY: false })).toBe(80);
      process.env.COLUMNS = '60';
      expect(outputColumns({ isTTY: false })).toBe(60);
      expect(outputColumns({ isTTY: true, columns: 100 })).toBe(100);
      process.env.COLUMNS = 'wide';
      expect(outputColumns({ isTTY: false })).toBe(80);
    } finally {
      if (saved === undefined) delete process.env.COLUMNS;
      else process.env.COLUMNS = saved;
    }
  });
  test('the live line of a watch: the whole id when it fits, else the short one, then a narrower bar', () => {
    const started = Date.now();
    const chunks = { state: 'PROGRESS', progress: { completed: 7, total: 16 }, params: { chunks: 16 } };
    expect(liveLine(id, { state: 'STARTED', progress: null }, started, 77)).toMatch(
      new RegExp(`^${id}: STARTED 0\\.\\ds$`),
    );
    const fitted = liveLine(id, chunks, started, 77);
    expect(fitted).toMatch(/^48761e63: PROGRESS \[#########-----------\] 7\/16 chunks \d+\.\ds$/);
    expect(liveLine(id, chunks, started, 120)).toMatch(new RegExp(`^${id}: PROGRESS \\[#{9}-{11}\\] 7/16 chunks`));
    expect(liveLine(id, chunks, started, 45)).toMatch(/^48761e63: PROGRESS \[####------\] 7\/16 chunks \d+\.\ds$/);
  });
});
