/**
 * Bench-only workflow (bench/orchestration.ts bundles it; production workers never load it): the
 * floor of what Temporal itself costs per sequential activity on a given server and SDK. A chain
 * of `n` no-op activities, each awaited before the next is scheduled, and nothing else: no search
 * attributes, no local activities, no bookkeeping activity.
 */
import { proxyActivities } from '@temporalio/workflow';

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
}

export async function floorChain(input: FloorChainInput): Promise<number> {
  const { noop } = proxyActivities<FloorActivities>({
    startToCloseTimeout: '1 minute',
    allowEagerDispatch: input.eager,
  });
  let last = 0;
  for (let i = 0; i < input.n; i++) last = await noop(i);
  return last;
}
