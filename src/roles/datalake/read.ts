/**
 * The datalake's read side (GET /datalake/stats, GET /datalake/export/:date and so the CLI): what
 * this node's --datalake-dir holds and what the store still holds (the buffers not yet drained,
 * 0.1.0's day lists), each record once. The files are the drainer's: an API node on another
 * machine than the scheduler leader reads them only through a shared volume (docs/datalake.md).
 */
import { compareLakeIds, LakeDay, lakeRecord } from '../../core/datalake';
import type { Store } from '../../store/types';
import type { DayFiles } from './files';

const PAGE = 1000;

/** each day's counters, oldest first: the store's (every record, drained or not), and the days only the files still know */
export async function lakeDays(store: Store, files?: DayFiles): Promise<LakeDay[]> {
  const [kept, onDisk] = await Promise.all([store.lake.days(), files ? files.days() : []]);
  const known = new Set(kept.map((d) => d.date));
  return [...kept, ...onDisk.filter((d) => !known.has(d.date))].sort((a, b) => (a.date < b.date ? -1 : 1));
}

/**
 * a day's records as NDJSON lines, in pages: 0.1.0's lists, then the day file, then the buffers'
 * records the file lacks. The buffers are read between two reads of the file's mark, and the file
 * up to the second: a record the drainer moves meanwhile is in the file part or the buffer part,
 * never both, never neither.
 */
export async function* lakeLines(store: Store, files: DayFiles | undefined, day: string): AsyncGenerator<string[]> {
  for (let offset = 0; ;) {
    const page = await store.lake.legacy(day, offset, PAGE);
    if (page.length) yield page.map((r) => JSON.stringify(r));
    if (page.length < PAGE) break;
    offset += page.length;
  }
  const before = files ? (await files.mark(day)).last : {};
  const buffered: { buffer: string; id: string; entries: string[] }[] = [];
  for (const buffer of await store.lake.buffers()) {
    for (let after = before[buffer] ?? ''; ;) {
      const page = await store.lake.pending(buffer, after, PAGE);
      for (const b of page) if (b.day === day) buffered.push({ buffer, id: b.id, entries: b.entries });
      if (page.length < PAGE) break;
      after = page[page.length - 1].id;
    }
  }
  let last: Record<string, string> = {};
  if (files) {
    const { mark, lines } = await files.lines(day);
    last = mark.last;
    let chunk: string[] = [];
    for await (const line of lines) {
      chunk.push(line);
      if (chunk.length >= PAGE) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length) yield chunk;
  }
  const rest = buffered.filter((b) => compareLakeIds(b.id, last[b.buffer] ?? '') > 0);
  for (let i = 0; i < rest.length; i += PAGE)
    yield rest.slice(i, i + PAGE).flatMap((b) => b.entries.map((e) => JSON.stringify(lakeRecord(e))));
}
