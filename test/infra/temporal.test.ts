import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../common/constants';
import { DEV_SERVER_DYNAMIC_CONFIG, startTemporalDevServer } from '../../infra/temporal';
import { tempDir } from '../helpers';

describe('the Temporal dev server runner', () => {
  test('starts the bootstrapped official binary with the namespace and every fairline search attribute', async () => {
    const dir = await tempDir();
    const server = await startTemporalDevServer({ dbFile: join(dir, 'temporal.db'), namespace: 'runner-test' });
    try {
      const connection = await Connection.connect({ address: server.address });
      const listed = await connection.operatorService.listSearchAttributes({ namespace: 'runner-test' });
      await connection.close();
      for (const [name] of Object.entries(SEARCH_ATTRIBUTES))
        assert.ok(name in (listed.customAttributes ?? {}), `${name} is registered`);
      assert.equal((await fetch(server.uiUrl)).status, 200, 'the Web UI answers');
    } finally {
      await server.stop();
    }
    assert.notEqual(server.process?.exitCode ?? server.process?.signalCode, null, 'the server process has exited');
  });

  test("starts the server with fairline's dynamic config, the caller's values added, and without it when asked for the CLI's own defaults", async () => {
    const dynamicFlags = (pid: number | undefined): string[] => {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv.flatMap((arg, i) => (argv[i - 1] === '--dynamic-config-value' ? [arg] : []));
    };
    const expected = Object.entries(DEV_SERVER_DYNAMIC_CONFIG).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
    assert.ok(
      expected.includes('history.transferProcessorMaxPollRPS=1000'),
      'the transfer queue poll cap is among the defaults',
    );
    for (const [options, flags] of [
      [
        { dynamicConfig: { 'system.enableActivityEagerExecution': true } },
        [...expected, 'system.enableActivityEagerExecution=true'],
      ],
      [{ stock: true }, []],
    ] as const) {
      const server = await startTemporalDevServer(options);
      try {
        assert.deepEqual(dynamicFlags(server.process?.pid).sort(), [...flags].sort(), JSON.stringify(options));
      } finally {
        await server.stop();
      }
    }
  });

  test('without a bootstrapped binary it asks the SDK to download one, and offline says to bootstrap', async () => {
    const lines: string[] = [];
    await assert.rejects(
      startTemporalDevServer({ binary: '/nonexistent/temporal', log: (l) => lines.push(l) }),
      (error: Error) => {
        assert.match(
          error.message,
          /Temporal CLI not found at \/nonexistent\/temporal, and the SDK could not download a dev server/,
        );
        assert.match(error.message, /run `npm run bootstrap`/);
        return true;
      },
    );
    assert.match(lines.join('\n'), /asking the Temporal SDK to download the dev server/);
  });
});
