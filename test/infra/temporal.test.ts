import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../common/constants';
import { startTemporalDevServer } from '../../infra/temporal';
import { tempDir } from '../helpers';

describe('the Temporal dev server runner', () => {
  test('starts the bootstrapped official binary with the namespace and every fairline search attribute', async () => {
    const dir = await tempDir();
    const server = await startTemporalDevServer({ dbFile: join(dir, 'temporal.db'), namespace: 'runner-test' });
    try {
      const connection = await Connection.connect({ address: server.address });
      const listed = await connection.operatorService.listSearchAttributes({ namespace: 'runner-test' });
      await connection.close();
      for (const [name] of Object.entries(SEARCH_ATTRIBUTES)) assert.ok(name in (listed.customAttributes ?? {}), `${name} is registered`);
      assert.equal((await fetch(server.uiUrl)).status, 200, 'the Web UI answers');
    } finally {
      await server.stop();
    }
    assert.notEqual(server.process?.exitCode ?? server.process?.signalCode, null, 'the server process has exited');
  });

  test('without a bootstrapped binary it asks the SDK to download one, and offline says to bootstrap', async () => {
    const lines: string[] = [];
    await assert.rejects(startTemporalDevServer({ binary: '/nonexistent/temporal', log: (l) => lines.push(l) }), (error: Error) => {
      assert.match(error.message, /Temporal CLI not found at \/nonexistent\/temporal, and the SDK could not download a dev server/);
      assert.match(error.message, /run `npm run bootstrap`/);
      return true;
    });
    assert.match(lines.join('\n'), /asking the Temporal SDK to download the dev server/);
  });
});
