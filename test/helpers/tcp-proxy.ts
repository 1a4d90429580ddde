/**
 * A TCP proxy on 127.0.0.1 for partition tests: it forwards to a target port until cut(), then
 * stops forwarding without closing anything, as a network that drops packets would look to both
 * ends: bytes sent meanwhile are held (TCP retransmits them), connections opened meanwhile get
 * no answer and reach the target only once healed, a side that closes is seen by the other only
 * then. heal() delivers what was held, in order, and forwards again. heal({ drop: true }) is a
 * network that lost those packets for good (a NAT or firewall that forgot the flows, a load
 * balancer that reset them): every connection that had bytes in flight, or was opened or closed
 * during the cut, is reset at both ends and nothing held is delivered; the idle ones go on.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** redis://127.0.0.1:<port> */
  url: string;
  cut(): void;
  heal(o?: { drop?: boolean }): void;
  readonly isCut: boolean;
  close(): Promise<void>;
}

/** one direction of a connection: what it could not forward while cut, and whether it ended */
class Direction {
  held: Buffer[] = [];
  ended = false;
  constructor(readonly to: () => net.Socket | null) {}

  data(chunk: Buffer, cut: boolean): void {
    const to = this.to();
    if (cut || !to) this.held.push(chunk);
    else to.write(chunk);
  }

  end(cut: boolean): void {
    this.ended = true;
    const to = this.to();
    if (!cut && to) to.end();
  }

  flush(): void {
    const to = this.to();
    if (!to) return;
    for (const chunk of this.held.splice(0)) to.write(chunk);
    if (this.ended) to.end();
  }
}

export interface TcpProxyOptions {
  /**
   * what the target sends is passed through this on its way (a chunk as it comes): a test's
   * stand-in for a server that answers otherwise. Keep lengths as they are (a RESP bulk string
   * announces its length), and what a chunk boundary may split out of the match.
   */
  rewrite?: (fromTarget: Buffer) => Buffer;
}

export async function startTcpProxy(targetPort: number, o: TcpProxyOptions = {}): Promise<TcpProxy> {
  let cut = false;
  const links = new Set<{ heal(drop: boolean): void; destroy(): void }>();

  const server = net.createServer((client) => {
    let upstream: net.Socket | null = null;
    const up = new Direction(() => upstream); // client → target
    const down = new Direction(() => client); // target → client
    const connectUpstream = () => {
      upstream = net.connect(targetPort, '127.0.0.1');
      upstream.on('data', (d) => down.data(o.rewrite ? o.rewrite(d) : d, cut));
      upstream.on('end', () => down.end(cut));
      upstream.on('error', () => client.destroy());
      up.flush();
    };
    const link = {
      heal(drop: boolean) {
        if (drop && (!upstream || up.held.length > 0 || down.held.length > 0 || up.ended || down.ended)) {
          link.destroy();
          links.delete(link);
          return;
        }
        if (!upstream) connectUpstream();
        else up.flush();
        down.flush();
      },
      destroy() {
        client.destroy();
        upstream?.destroy();
      },
    };
    links.add(link);
    client.on('data', (d) => up.data(d, cut));
    client.on('end', () => up.end(cut));
    client.on('error', () => up.end(cut)); // a reset reaches the target as a close, after what was held
    client.on('close', () => {
      if (!cut) {
        upstream?.end();
        links.delete(link);
      }
    });
    if (!cut) connectUpstream();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cut() {
      cut = true;
    },
    heal(o = {}) {
      cut = false;
      for (const l of [...links]) l.heal(o.drop === true);
    },
    get isCut() {
      return cut;
    },
    async close() {
      for (const l of links) l.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
