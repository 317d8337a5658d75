/**
 * Bench-only workflow (bench/orchestration.ts bundles it; production workers never load it): the
 * floor of what Temporal itself costs per sequential activity on a given server and SDK. A chain
 * of `n` no-op activities, each awaited before the next is scheduled, and nothing else: no search
 * attributes (unless asked for: `upsertEach`), no local activities, no bookkeeping activity.
 */
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';

/** The no-op activity the floor chain runs; bench/orchestration.ts registers it. */
export interface FloorActivities {
  noop(i: number): Promise<number>;
}

export interface FloorChainInput {
  n: number;
  /**
   * Let the server hand the activity back to this worker in the workflow task's completion
   * (eager activity dispatch; needs `system.enableActivityEagerExecution` on the server and the
   * activity on the workflow's own task queue). False: every activity goes through matching.
   */
  eager: boolean;
  /**
   * Before each activity, set a search attribute to a new value (the one fairline sets as each
   * stage starts): what a workflow task that changes one costs on this server.
   */
  upsertEach?: boolean;
}

export async function floorChain(input: FloorChainInput): Promise<number> {
  const { noop } = proxyActivities<FloorActivities>({
    startToCloseTimeout: '1 minute',
    allowEagerDispatch: input.eager,
  });
  let last = 0;
  for (let i = 0; i < input.n; i++) {
    if (input.upsertEach) upsertSearchAttributes({ FairlineStage: [`floor-${i}`] });
    last = await noop(i);
  }
  return last;
}
