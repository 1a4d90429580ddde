/**
 * --durability replica on a Redis Cluster: a write goes to its shard's master and `WAIT 1` must
 * follow it on the same connection to that master (WAIT counts what its connection wrote). The
 * cluster client shares one pipelined connection per node, which a WAIT would block for every
 * other command, so each master gets connections of its own here (plain clients, link.ts, with
 * the store's deadlines), found by the slot of the write's key in the layout the cluster client
 * knows now. A failover or a resharding moves the slot to another master: the next write's
 * lookup finds that one; a write sent where the slot no longer is answers MOVED or ASK before it
 * runs (nothing written), and is a 503, safe to retry, while the cluster client learns the
 * layout again. Connections to a node that no longer masters a slot are closed.
 */
import type { Link } from './link';

/** the connections per master (WAITs block theirs, so several may wait at once) */
const PER_MASTER = 4;

/** CRC16 (XMODEM) of a key's hash tag, mod 16384: the Cluster's slot of a key */
export function keySlot(key: string): number {
  let k = key;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) k = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(k)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

export interface MasterLinksOptions {
  /** redis://host:port of the master of a slot now, null when none is known */
  masterUrlOf: (slot: number) => string | null;
  /** the addresses of every master now (host:port) */
  masters: () => string[];
  /** a new connection to that URL */
  makeLink: (url: string) => Link;
}

export class MasterLinks {
  private readonly byMaster = new Map<string, { links: Link[]; turn: number }>();

  constructor(private readonly o: MasterLinksOptions) {}

  get all(): Link[] {
    return [...this.byMaster.values()].flatMap((m) => m.links);
  }

  /** a connection to the master that holds `key`'s slot now, or null while none is known */
  linkFor(key: string): Link | null {
    const url = this.o.masterUrlOf(keySlot(key));
    if (!url) return null;
    let m = this.byMaster.get(url);
    if (!m) {
      this.forget();
      this.byMaster.set(url, (m = { links: [], turn: 0 }));
    }
    let l = m.links[m.turn++ % PER_MASTER];
    if (!l) m.links.push((l = this.o.makeLink(url)));
    return l;
  }

  /** close the connections of nodes that are no longer masters (a failover demoted or removed them) */
  private forget(): void {
    const now = new Set(this.o.masters());
    for (const [url, m] of this.byMaster) {
      if (now.has(new URL(url).host)) continue;
      for (const l of m.links) l.close();
      this.byMaster.delete(url);
    }
  }

  close(): void {
    for (const l of this.all) l.close();
    this.byMaster.clear();
  }
}
