/**
 * All CLI output goes through here. Colour is off when NO_COLOR is set to anything but the
 * empty string (no-color.org), when TERM=dumb and when stdout is not a terminal; spinners
 * appear only on a terminal; with --json only the JSON reaches stdout.
 *
 * A line for people is fitted to the width (the terminal's; when not on a terminal, $COLUMNS, else
 * 80): wrapped at spaces, the rest indented; a spinner's line is cut with … instead.
 *
 * Tables have no borders: columns two spaces apart, a bold header on a terminal. On a terminal
 * they fit its width (the widest columns are cut, with …); piped, nothing is cut. Generated ids
 * (UUIDs) are shown short, as git shows commits: the first 8 characters (after a `bot-`-like
 * prefix), longer where two would look alike; --wide (or --json) shows them whole.
 *
 * Nothing printed for people carries a control character from the data (a bot named with ESC or
 * CR): each is shown escaped (src/util/printable.ts), only this program's own colours stay.
 */
import chalk, { Chalk } from 'chalk';
import Table from 'cli-table3';
import ora, { Ora } from 'ora';
import { jsonPrintable, printableStyled } from '../util/printable';

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

/** a duration as people say it, exact: "10 min", "1 h 30 min", "2 d", "1 s 500 ms" */
export function duration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
    [1, 'ms'],
  ];
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [size, name] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n} ${name}`);
    rest -= n * size;
  }
  return parts.length ? parts.join(' ') : '0 ms';
}

/** "1 day", "3 days" */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * a generated id: a UUID (or another long hex string) or a job's 16 base32 characters
 * (core/ids.ts), after a type prefix such as `bot-`
 */
const GENERATED_ID = /^([a-z]+-)?([0-9a-f][0-9a-f-]{15,}|[0-9abcdefghjkmnpqrstvwxyz]{16})$/i;

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

/** the width output is fitted to: the terminal's when `stream` is one, else $COLUMNS, else 80 */
export function outputColumns(stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  if (stream.isTTY && (stream.columns ?? 0) > 0) return stream.columns!;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env > 0 ? env : 80;
}

/**
 * a line as lines of at most `columns` characters: broken at spaces, each line after the first
 * indented by `indent` (the first keeps its own indentation); a word longer than a line is cut
 * (with no colour: its codes are dropped)
 */
export function wrapLine(text: string, columns: number, indent = 2): string[] {
  if (width(text) <= columns) return [text];
  const lead = /^ */.exec(text)![0];
  const pad = ' '.repeat(indent);
  const out: string[] = [];
  let line = lead;
  let started = false; // the line holds a word
  for (const word of text.slice(lead.length).split(' ')) {
    if (started && width(line) + 1 + width(word) <= columns) {
      line += ` ${word}`;
      continue;
    }
    if (started) {
      out.push(line);
      line = pad;
    }
    let rest = word;
    while (width(line) + width(rest) > columns && width(line) < columns) {
      const chars = [...rest.replace(ANSI, '')];
      const room = columns - width(line);
      out.push(line + chars.slice(0, room).join(''));
      line = pad;
      rest = chars.slice(room).join('');
    }
    line += rest;
    started = true;
  }
  out.push(line);
  return out;
}

/** a line cut to `columns` characters, its end replaced by … when it was longer */
export function cutLine(text: string, columns: number): string {
  if (width(text) <= columns) return text;
  return [...text.replace(ANSI, '')].slice(0, Math.max(0, columns - 1)).join('') + '…';
}

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
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: ' '.repeat(GAP),
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
  const safe = (text: string, oneLine = false) => printableStyled(text, { oneLine, keepColours: colour });
  const safeOnStderr = (text: string) =>
    printableStyled(text, { oneLine: true, keepColours: process.stderr.isTTY === true });
  return {
    json,
    tty,
    c,
    line(text) {
      if (json) return;
      const columns = outputColumns();
      process.stdout.write(
        safe(text)
          .split('\n')
          .flatMap((l) => wrapLine(l, columns))
          .join('\n') + '\n',
      );
    },
    data(value) {
      process.stdout.write(jsonPrintable(JSON.stringify(value)) + '\n');
    },
    table(head, rows, o = {}) {
      if (json) return;
      const short = opts.wide
        ? null
        : shortIds(
            rows.flatMap((r) => (o.ids ?? []).map((i) => r[i]).filter((v): v is string => typeof v === 'string')),
          );
      const cells = rows.map((r) =>
        r.map((v, i) =>
          safe(v === null ? '-' : o.ids?.includes(i) && short ? (short.get(String(v)) ?? String(v)) : String(v), true),
        ),
      );
      // piped: cli-table3 sizes the columns to their content; on a terminal they fit its width
      const natural = () => head.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i]))));
      const colWidths = tty ? fitWidths(natural(), process.stdout.columns || 80) : [];
      const t = new Table({
        head: head.map((h) => c.bold(h)),
        chars: NO_BORDERS,
        style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
        colWidths,
      });
      t.push(...cells);
      process.stdout.write(
        t
          .toString()
          .split('\n')
          .map((l) => l.trimEnd())
          .join('\n') + '\n',
      );
    },
    spinner(text) {
      if (json || !tty || !process.stderr.isTTY) return silentSpinner;
      // one line, never wrapped (a wrapped line breaks the redraw): the symbol and a space, and the last column left free
      const fit = (t: string) => cutLine(t, outputColumns(process.stderr) - 3);
      const s: Ora = ora({ text: fit(safeOnStderr(text)), stream: process.stderr, color: 'cyan' }).start();
      return {
        update: (t) => void (s.text = fit(safeOnStderr(t))),
        succeed: (t) => void s.succeed(safeOnStderr(t)),
        fail: (t) => void s.fail(safeOnStderr(t)),
        stop: () => void s.stop(),
      };
    },
  };
}
