/**
 * Redis's eviction policy, judged: a policy that lets Redis drop keys under memory pressure drops
 * queued jobs, leases and chord counters without a word (every `allkeys-*` policy; every
 * `volatile-*` one too, since finished jobs carry TTLs and an index or a lease lives beside
 * them). Only `noeviction` keeps everything: a full Redis then refuses writes (a 503) instead.
 * Pure: the store reads the policy (`INFO memory`'s `maxmemory_policy`, which works where
 * `CONFIG` is renamed or refused; on a Cluster, each master's), the roles act on the verdict.
 */

/** the only policy under which Redis never drops a key by itself */
export const SAFE_POLICY = 'noeviction';

/** the fix the messages name */
export const EVICTION_FIX = `CONFIG SET maxmemory-policy ${SAFE_POLICY}`;

/** one Redis (a master, on a Cluster) and the policy it reports; null: it reports none (hidden) */
export interface NodePolicy {
  /** host:port, or the store's URL for a single Redis */
  node: string;
  policy: string | null;
}

/**
 * what a policy means for jobs: safe (noeviction), evicts (any other: an unknown new policy is
 * taken as one that may evict), hidden (an empty or missing field, as some managed services answer)
 */
export type PolicyRisk = 'safe' | 'evicts' | 'hidden';

export function policyRisk(policy: string | null | undefined): PolicyRisk {
  const p = (policy ?? '').trim();
  if (p === '') return 'hidden';
  return p === SAFE_POLICY ? 'safe' : 'evicts';
}

export interface EvictionVerdict {
  /** the nodes whose policy evicts */
  evicting: NodePolicy[];
  /** the nodes that hide their policy */
  hidden: NodePolicy[];
}

export function evictionVerdict(nodes: readonly NodePolicy[]): EvictionVerdict {
  return {
    evicting: nodes.filter((n) => policyRisk(n.policy) === 'evicts'),
    hidden: nodes.filter((n) => policyRisk(n.policy) === 'hidden'),
  };
}

/** "Redis at <where>" for one node, "Redis master <a> and <b>" for several */
function where(nodes: readonly NodePolicy[], single: boolean): string {
  if (single) return `Redis at ${nodes[0].node}`;
  return `Redis master${nodes.length > 1 ? 's' : ''} ${nodes.map((n) => n.node).join(', ')}`;
}

/**
 * one line on the nodes that evict: which, under what policy, what it costs and the fix.
 * single: the store is one Redis (its URL is the node), not a Cluster's masters.
 */
export function evictingMessage(evicting: readonly NodePolicy[], single: boolean): string {
  const policies = [...new Set(evicting.map((n) => n.policy))].join(', ');
  return `${where(evicting, single)} can evict keys (maxmemory-policy ${policies}): queued jobs, leases and chord counters would vanish under memory pressure; run ${EVICTION_FIX} (and set it in its config)`;
}

/** one line on the nodes that do not report their policy */
export function hiddenMessage(hidden: readonly NodePolicy[], single: boolean): string {
  return `${where(hidden, single)} does not report its maxmemory-policy (a managed service may hide it): make sure it is ${SAFE_POLICY} in the service's settings, or jobs can vanish under memory pressure`;
}
