import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { defaultGpuConcurrency, visibleGpuCount } from '../../worker/gpus';

describe('the gpu queue’s default concurrency', () => {
  test('is one per device CUDA_VISIBLE_DEVICES names', () => {
    assert.equal(visibleGpuCount({ CUDA_VISIBLE_DEVICES: '0,1,3' }), 3);
    assert.equal(defaultGpuConcurrency({ CUDA_VISIBLE_DEVICES: '2' }), 1);
    assert.equal(defaultGpuConcurrency({ CUDA_VISIBLE_DEVICES: 'GPU-aa,GPU-bb' }), 2);
  });

  test('is 1 when every device is hidden or there is none: training then runs on CPU, one at a time', () => {
    assert.equal(visibleGpuCount({ CUDA_VISIBLE_DEVICES: '' }), 0);
    assert.equal(visibleGpuCount({ CUDA_VISIBLE_DEVICES: '-1' }), 0);
    assert.equal(defaultGpuConcurrency({ CUDA_VISIBLE_DEVICES: '-1' }), 1);
  });

  test('counts what nvidia-smi lists when CUDA_VISIBLE_DEVICES is not set', () => {
    const smi = spawnSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], { encoding: 'utf8' });
    const expected = smi.status === 0 ? smi.stdout.split('\n').filter((l) => l.trim() !== '').length : 0;
    assert.equal(visibleGpuCount({}), expected);
  });
});
