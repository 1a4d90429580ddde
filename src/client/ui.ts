/**
 * All CLI output goes through here. Colour follows NO_COLOR and is off when stdout is not a
 * terminal; spinners appear only on a terminal; with --json only the JSON reaches stdout.
 */
import chalk, { Chalk } from 'chalk';
import Table from 'cli-table3';
import ora, { Ora } from 'ora';

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
  /** a table for people (cli-table3; not printed under --json) */
  table(head: string[], rows: (string | number | null)[][]): void;
}

export interface Spinner {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

const silentSpinner: Spinner = { update() {}, succeed() {}, fail() {}, stop() {} };

export function createUi(opts: { json?: boolean } = {}): Ui {
  const tty = process.stdout.isTTY === true;
  const colour = tty && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
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
    table(head, rows) {
      if (json) return;
      const t = new Table({ head: head.map((h) => c.bold(h)), style: { head: [], border: [] } });
      t.push(...rows.map((r) => r.map((v) => (v === null ? '-' : String(v)))));
      process.stdout.write(t.toString() + '\n');
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
