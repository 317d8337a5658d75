import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { SA } from '../../common/constants';
import { workflowUrl } from '../../client/follow';
import { openBrowser, type BrowserSession } from '../browser';
import { startEngine, type Engine } from '../engine';
import { suiteTemporal, tempDir } from '../helpers';

/** Visibility is eventually consistent and the UI is a single-page app: allow it a generous minute. */
const UI_TIMEOUT_MS = 60_000;
/** How long one page load waits for the run before reloading (the list does not poll by itself). */
const RELOAD_EVERY_MS = 5_000;

describe('the Temporal Web UI of the dev server', { timeout: 240_000 }, () => {
  let engine: Engine;
  let session: BrowserSession;
  let handle: WorkflowHandle;
  let pipeline: string;
  const uiUrl = (): string => suiteTemporal().uiUrl;

  before(async () => {
    engine = await startEngine();
    // A one-stage run of a local file, under a pipeline name no other test uses.
    pipeline = `ui-${randomUUID().slice(0, 8)}`;
    const dir = await tempDir('fairline-ui-');
    const input = join(dir, 'input.txt');
    await writeFile(input, 'hello from the UI test\n');
    handle = await engine.start(
      `name: ${pipeline}\nstages:\n  - { id: fetch, uses: download, with: { url: "${pathToFileURL(input).href}" } }\n`,
    );
    assert.equal((await engine.outcome(handle)).status, 'succeeded');
    session = await openBrowser();
  });
  after(async () => {
    await session?.close();
    await engine?.close();
  });

  test('lists the run among the workflows filtered by FairlinePipeline, then shows its search attributes', async () => {
    const { page } = session;
    const namespace = engine.config.temporal.namespace;
    const query = `${SA.pipeline.name}="${pipeline}"`;
    const listUrl = `${uiUrl()}/namespaces/${namespace}/workflows?query=${encodeURIComponent(query)}`;
    const row = page.getByRole('link', { name: handle.workflowId, exact: true });

    const deadline = Date.now() + UI_TIMEOUT_MS;
    for (;;) {
      await page.goto(listUrl);
      try {
        await row.first().waitFor({ timeout: RELOAD_EVERY_MS });
        break;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`${handle.workflowId} never appeared in ${listUrl}`, { cause: error });
      }
    }
    const listText = await page.innerText('body');
    assert.ok(listText.includes(pipeline), 'the filter names the pipeline');
    assert.equal(await row.count(), 1, 'the filter leaves exactly this run');
    await session.screenshot('temporal-ui-workflows');

    await row.first().click();
    const { runId } = await handle.describe();
    await page.waitForURL((url) => url.pathname.includes(runId), { timeout: UI_TIMEOUT_MS });
    await page
      .getByRole('link', { name: 'Search Attributes' })
      .or(page.getByRole('tab', { name: 'Search Attributes' }))
      .first()
      .click();
    // The tab shows the attributes as JSON: "FairlinePipeline": "ui-…".
    const expected = { [SA.pipeline.name]: pipeline, [SA.status.name]: 'succeeded', [SA.trigger.name]: 'cli' };
    await page.getByText(`"${SA.pipeline.name}": "${pipeline}"`).first().waitFor({ timeout: UI_TIMEOUT_MS });
    const text = await page.innerText('body');
    for (const [name, value] of Object.entries(expected)) {
      assert.ok(text.includes(`"${name}": "${value}"`), `the page shows ${name} = ${value}`);
    }
    await session.screenshot('temporal-ui-search-attributes');
  });

  test('the workflow link fairline prints opens the run in the UI', async () => {
    const config = { ...engine.config, temporal: { ...engine.config.temporal, uiUrl: uiUrl() } };
    await session.page.goto(workflowUrl(config, handle.workflowId));
    await session.page
      .getByRole('heading', { name: handle.workflowId })
      .or(session.page.getByText(handle.workflowId))
      .first()
      .waitFor({ timeout: UI_TIMEOUT_MS });
  });

  // Runs last: it checks the requests of every page the tests above opened.
  test('every request the UI made went to the local dev server, never the internet', () => {
    const local = new URL(uiUrl()).origin;
    const elsewhere = session.requests.filter(
      (r) => !r.url.startsWith('data:') && !r.url.startsWith('blob:') && new URL(r.url).origin !== local,
    );
    assert.deepEqual(elsewhere, []);
    assert.ok(session.requests.length > 0);
  });
});
