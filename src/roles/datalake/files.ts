/**
 * The datalake's day files (docs/datalake.md): under `<dir>/<prefix>/`, one `YYYY-MM-DD.ndjson` a
 * UTC day (one exported record a line, in the order the drainer wrote them) and its mark,
 * `YYYY-MM-DD.mark.json`: the bytes of the file that are written for good (`size`), the day's
 * counters, and per buffer the id of the last entry in the file (`last`).
 *
 * append() writes and fsyncs the lines, then replaces the mark (written aside, fsynced, renamed):
 * a crash between the two leaves bytes past `size`, which readers never read and the next append
 * cuts off before it writes; the drainer then finds the same entries in the buffer (it trims the
 * buffer only after the mark) and writes them again. Entries whose id is at most the mark's
 * `last` are in the file already and skipped: each record is in its day's file once.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { compareLakeIds, DAY_MS, isDay, LakeBatch, LakeDay, lakeRecord } from '../../core/datalake';

export interface DayMark {
  /** bytes of the day file written for good */
  size: number;
  /** per buffer, the id of its last entry in the file */
  last: Record<string, string>;
  total: number;
  success: number;
  durationMsSum: number;
  durationCount: number;
}

const EMPTY: DayMark = { size: 0, last: {}, total: 0, success: 0, durationMsSum: 0, durationCount: 0 };
const MARK = '.mark.json';

export class DayFiles {
  /** one append at a time per day (a drainer and a test in one process) */
  private readonly writing = new Map<string, Promise<unknown>>();

  /** `root` the --datalake-dir; the files of a prefix live in a directory of their own under it */
  constructor(
    root: string,
    prefix: string,
    readonly dir = path.resolve(root, prefix),
  ) {}

  file(day: string): string {
    return path.join(this.dir, `${day}.ndjson`);
  }

  private markFile(day: string): string {
    return path.join(this.dir, `${day}${MARK}`);
  }

  async mark(day: string): Promise<DayMark> {
    try {
      return { ...EMPTY, ...(JSON.parse(await fsp.readFile(this.markFile(day), 'utf8')) as Partial<DayMark>) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...EMPTY, last: {} };
      throw err;
    }
  }

  /** append a buffer's entries of `day` (oldest first) that the file lacks; answers the records written */
  append(day: string, buffer: string, batches: LakeBatch[]): Promise<number> {
    const run = (this.writing.get(day) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.appendNow(day, buffer, batches));
    this.writing.set(day, run);
    return run.finally(() => {
      if (this.writing.get(day) === run) this.writing.delete(day);
    });
  }

  private async appendNow(day: string, buffer: string, batches: LakeBatch[]): Promise<number> {
    const mark = await this.mark(day); // read again: another drainer on this directory may have written
    const fresh = batches.filter((b) => compareLakeIds(b.id, mark.last[buffer] ?? '') > 0);
    if (fresh.length === 0) return 0;
    const next: DayMark = { ...mark, last: { ...mark.last, [buffer]: fresh[fresh.length - 1].id } };
    const lines: string[] = [];
    for (const b of fresh) {
      for (const entry of b.entries) {
        const r = lakeRecord(entry);
        lines.push(JSON.stringify(r));
        next.total++;
        if (r.status === 'SUCCESS') next.success++;
        if (r.duration_ms !== null) {
          next.durationMsSum += r.duration_ms;
          next.durationCount++;
        }
      }
    }
    const text = Buffer.from(lines.join('\n') + '\n');
    await fsp.mkdir(this.dir, { recursive: true });
    const fh = await fsp.open(this.file(day), 'a');
    try {
      if ((await fh.stat()).size > mark.size) await fh.truncate(mark.size); // a crash's unmarked tail
      await fh.write(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    next.size = mark.size + text.length;
    await this.writeMark(day, next);
    return lines.length;
  }

  private async writeMark(day: string, mark: DayMark): Promise<void> {
    const tmp = `${this.markFile(day)}.${process.pid}.tmp`;
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.write(JSON.stringify(mark));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.markFile(day));
    const d = await fsp.open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  /** the days that have a file, oldest first, with their counters */
  async days(): Promise<LakeDay[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const days = names
      .filter((n) => n.endsWith(MARK) && isDay(n.slice(0, -MARK.length)))
      .map((n) => n.slice(0, -MARK.length))
      .sort();
    return Promise.all(
      days.map(async (date) => {
        const m = await this.mark(date);
        return {
          date,
          total: m.total,
          success: m.success,
          failure: m.total - m.success,
          durationMsSum: m.durationMsSum,
          durationCount: m.durationCount,
        };
      }),
    );
  }

  /** the day's written lines (JSON records), as far as its mark says, and its mark */
  async lines(day: string): Promise<{ mark: DayMark; lines: AsyncIterable<string> }> {
    const mark = await this.mark(day);
    if (mark.size === 0) return { mark, lines: [] as unknown as AsyncIterable<string> };
    const stream = fs.createReadStream(this.file(day), { start: 0, end: mark.size - 1 });
    return { mark, lines: readline.createInterface({ input: stream, crlfDelay: Infinity }) };
  }

  /** delete the days older than `retentionDays` before today (`now`'s); answers them */
  async prune(retentionDays: number, now: number): Promise<string[]> {
    const cutoff = Math.floor(now / DAY_MS) * DAY_MS - retentionDays * DAY_MS;
    const old = (await this.days()).map((d) => d.date).filter((d) => Date.parse(`${d}T00:00:00.000Z`) < cutoff);
    for (const d of old) {
      await fsp.rm(this.markFile(d), { force: true });
      await fsp.rm(this.file(d), { force: true });
    }
    return old;
  }
}
