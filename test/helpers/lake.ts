/** The datalake as the API exports it: the spawned roles' day files (TEST_LAKE_DIR) and what the store has not drained. */
import type { LakeRecord } from '../../src/core/datalake';
import { lakeFiles } from '../../src/roles/datalake/drain';
import { lakeLines } from '../../src/roles/datalake/read';
import type { Store } from '../../src/store/types';
import { TEST_LAKE_DIR } from './procs';

/** a day's records, each once, wherever they are now (`dir`: the roles' --datalake-dir) */
export async function lakeExport(store: Store, day: string, dir = TEST_LAKE_DIR): Promise<LakeRecord[]> {
  const out: LakeRecord[] = [];
  for await (const page of lakeLines(store, lakeFiles(store, dir), day))
    out.push(...page.map((l) => JSON.parse(l) as LakeRecord));
  return out;
}
