/**
 * All CLI output goes through here. Colour is off when NO_COLOR is set to anything but the
 * empty string (no-color.org), when TERM=dumb and when stdout is not a terminal; spinners
 * appear only on a terminal; with --json only the JSON reaches stdout.
 *
 * Tables have no borders: columns two spaces apart, a bold header on a terminal. On a terminal
 * they fit its width (the widest columns are cut, with …); piped, nothing is cut. Generated ids
 * (UUIDs) are shown short, as git shows commits: the first 8 characters (after a `bot-`-like
 * prefix), longer where two would look alike; --wide (or --json) shows them whole.
 */
import chalk, { Chalk } from 'chalk';
import Table from 'cli-table3';
import ora, { Ora } from 'ora';

/** how many characters of an id a table shows at least */
export const SHORT_ID = 8;
const GAP = 2;

export type Cell = string | number | null;

export interface TableOptions {
  /** columns of ids: shown short (unless --wide), each as long as it takes to be unique in the table */
  ids?: number[];
}

/** "12s ago", "4m 25s ago", "3h 5m ago", "2d 4h ago" */
export function ago(iso: string | null, now = Date.now()): string | null {
  if (iso === null) return null;
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const [d, h, m] = [Math.floor(s / 86_400), Math.floor((s % 86_400) / 3600), Math.floor((s % 3600) / 60)];
  if (d > 0) return `${d}d ${h}h ago`;
  if (h > 0) return `${h}h ${m}m ago`;
  if (m > 0) return `${m}m ${s % 60}s ago`;
  return `${s}s ago`;
}

/** "1 day", "3 days" */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** a generated id: a UUID (or another long hex string), after a type prefix such as `bot-` */
const GENERATED_ID = /^([a-z]+-)?([0-9a-f][0-9a-f-]{15,})$/i;

/**
 * each generated id shortened as git shortens commits: its type prefix (`bot-`) and then
 * `SHORT_ID` characters, more when that would not tell two ids of the table apart; names
 * (a node id such as `api-1`) stay whole
 */
export function shortIds(ids: string[]): Map<string, string> {
  const distinct = [...new Set(ids)];
  const cut = (id: string, n: number) => {
    const m = GENERATED_ID.exec(id);
    return m && m[2].length > n + 1 ? (m[1] ?? '') + m[2].slice(0, n) : id;
  };
  let n = SHORT_ID;
  while (new Set(distinct.map((id) => cut(id, n))).size < distinct.length) n++;
  return new Map(distinct.map((id) => [id, cut(id, n)]));
}

// eslint-disable-next-line no-control-regex -- ESC (\u001b) opens the colour codes this strips
const ANSI = /\u001b\[[0-9;]*m/g;
const width = (s: string): number => [...s.replace(ANSI, '')].length;

/** column widths that fit `columns`: the widest column gives way first, down to 8 characters */
export function fitWidths(natural: number[], columns: number): number[] {
  const w = [...natural];
  const total = () => w.reduce((a, b) => a + b, 0) + GAP * (w.length - 1);
  while (total() > columns) {
    const widest = w.indexOf(Math.max(...w));
    if (w[widest] <= SHORT_ID) break;
    w[widest]--;
  }
  return w;
}

const NO_BORDERS = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: ' '.repeat(GAP),
};

export interface Ui {
  readonly json: boolean;
  readonly tty: boolean;
  readonly c: Chalk;
  /** a line for people (not printed under --json) */
  line(text: string): void;
  /** the one JSON document of --json */
  data(value: unknown): void;
  /** a live status line on stderr, or nothing when not on a terminal */
  spinner(text: string): Spinner;
  /** a table for people (not printed under --json), fitted to the terminal */
  table(head: string[], rows: Cell[][], opts?: TableOptions): void;
}

export interface Spinner {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

const silentSpinner: Spinner = { update() {}, succeed() {}, fail() {}, stop() {} };

export function createUi(opts: { json?: boolean; wide?: boolean } = {}): Ui {
  const tty = process.stdout.isTTY === true;
  const colour = tty && (process.env.NO_COLOR ?? '') === '' && process.env.TERM !== 'dumb';
  const c = new chalk.Instance({ level: colour ? 1 : 0 });
  const json = opts.json === true;
  return {
    json,
    tty,
    c,
    line(text) {
      if (!json) process.stdout.write(text + '\n');
    },
    data(value) {
      process.stdout.write(JSON.stringify(value) + '\n');
    },
    table(head, rows, o = {}) {
      if (json) return;
      const short = opts.wide ? null : shortIds(rows.flatMap((r) => (o.ids ?? []).map((i) => r[i]).filter((v): v is string => typeof v === 'string')));
      const cells = rows.map((r) => r.map((v, i) => (v === null ? '-' : o.ids?.includes(i) && short ? short.get(String(v)) ?? String(v) : String(v))));
      // piped: cli-table3 sizes the columns to their content; on a terminal they fit its width
      const natural = () => head.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i]))));
      const colWidths = tty ? fitWidths(natural(), process.stdout.columns || 80) : [];
      const t = new Table({ head: head.map((h) => c.bold(h)), chars: NO_BORDERS, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 }, colWidths });
      t.push(...cells);
      process.stdout.write(t.toString().split('\n').map((l) => l.trimEnd()).join('\n') + '\n');
    },
    spinner(text) {
      if (json || !tty || !process.stderr.isTTY) return silentSpinner;
      const s: Ora = ora({ text, stream: process.stderr, color: 'cyan' }).start();
      return {
        update: (t) => void (s.text = t),
        succeed: (t) => void s.succeed(t),
        fail: (t) => void s.fail(t),
        stop: () => void s.stop(),
      };
    },
  };
}
