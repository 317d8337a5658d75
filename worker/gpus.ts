/**
 * How many GPUs this worker may use: the gpu queue runs one training at a time per GPU by
 * default. CUDA_VISIBLE_DEVICES wins when set (a scheduler gave this worker those devices);
 * otherwise nvidia-smi lists the devices; no driver means no GPU.
 */
import { spawnSync } from 'node:child_process';

export function visibleGpuCount(env: NodeJS.ProcessEnv = process.env): number {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) {
    // "" and "-1" hide every device (CUDA's own convention).
    const ids = visible
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s !== '-1');
    return ids.length;
  }
  const listed = spawnSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], {
    encoding: 'utf8',
    timeout: 5_000,
  });
  if (listed.status !== 0 || typeof listed.stdout !== 'string') return 0;
  return listed.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

/** The gpu queue's default concurrency: one activity per GPU, and 1 on a machine without one (CPU training). */
export function defaultGpuConcurrency(env: NodeJS.ProcessEnv = process.env): number {
  return Math.max(1, visibleGpuCount(env));
}
