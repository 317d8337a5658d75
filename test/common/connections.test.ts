/**
 * A client command with no Temporal to talk to says so in one line, naming the address and what to
 * do, instead of the SDK's gRPC stack trace.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TemporalUnreachable, withClient } from '../../common/connections';
import { freePort } from '../../infra/ports';
import { loadConfig } from '../../temporal.config';
import { cleanEnv, fairline } from '../helpers';

test('withClient on an address where nothing listens fails with TemporalUnreachable naming the address and `fairline dev`', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const config = loadConfig({ temporal: { address, embedded: false } }, {});
  let ran = false;
  await assert.rejects(
    withClient(config, async () => void (ran = true)),
    (error: unknown) => {
      assert.ok(error instanceof TemporalUnreachable, `expected TemporalUnreachable, got ${String(error)}`);
      assert.equal(error.address, address);
      assert.match(
        error.message,
        new RegExp(`cannot reach Temporal at ${address} \\(namespace fairline\\).*npx fairline dev`),
      );
      return true;
    },
  );
  assert.equal(ran, false, 'the body never runs without a connection');
});

test('`fairline runs` with no Temporal exits 1 with one line on stderr and no stack trace', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const result = await fairline(['runs'], cleanEnv({ FAIRLINE_TEMPORAL_ADDRESS: address }));
  assert.equal(result.code, 1, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, new RegExp(`^fairline: TemporalUnreachable: cannot reach Temporal at ${address}`));
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack frames');
});

test('`fairline run` against an address where nothing listens exits 1 with one line on stderr and no stack trace', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const result = await fairline(['run', 'pipelines/demo.yaml'], cleanEnv({ FAIRLINE_TEMPORAL_ADDRESS: address }));
  assert.equal(result.code, 1, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, new RegExp(`^fairline: TemporalUnreachable: cannot reach Temporal at ${address}`));
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack frames');
});
