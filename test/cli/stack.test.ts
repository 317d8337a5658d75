import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, test } from 'node:test';
import { startEmbeddedStack } from '../../cli/stack';
import { PortInUse } from '../../infra/errors';
import { freePort } from '../../infra/ports';
import { loadConfig } from '../../temporal.config';

function hold(port: number): Promise<Server> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => done(server));
  });
}

describe('the embedded stack', () => {
  test('refuses in one line to start on a port another program holds, naming the port and the way out', async () => {
    const [frontend, ui] = [await freePort(), await freePort()];
    const squatter = await hold(ui);
    try {
      const config = loadConfig(
        { temporal: { address: `127.0.0.1:${frontend}`, uiUrl: `http://127.0.0.1:${ui}`, embedded: true } },
        {},
      );
      await assert.rejects(
        startEmbeddedStack(config, () => undefined),
        (error: unknown) => {
          assert.ok(error instanceof PortInUse);
          assert.equal(error.port, ui);
          assert.equal(
            error.message,
            `port ${ui} (Temporal Web UI) on 127.0.0.1 is taken by another program, perhaps another fairline stack; stop it, or give this stack free ports: ` +
              'FAIRLINE_TEMPORAL_ADDRESS=127.0.0.1:PORT FAIRLINE_TEMPORAL_UI_URL=http://127.0.0.1:PORT FAIRLINE_TEMPORAL_EMBEDDED=true',
          );
          return true;
        },
      );
    } finally {
      squatter.close();
    }
  });
});
