/**
 * Headless Chromium for the browser tests: Debian's `chromium` package (infra/bootstrap.ts installs
 * it) driven by playwright-core, which brings no browser of its own and downloads nothing.
 *
 * Every request any page of the session makes is recorded, so a test can assert exactly what was
 * fetched (report.html: nothing but itself). Screenshots go to `test-artifacts/` at the
 * repository root (ignored by git; CI keeps the folder as the run's artifacts).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, ENV } from '../common/constants';
import { PROJECT_ROOT } from '../common/paths';

export const TEST_ARTIFACTS_DIR = join(PROJECT_ROOT, 'test-artifacts');

/**
 * `--no-sandbox`: tests run as root in containers, where Chromium's sandbox cannot start.
 * `--disable-dev-shm-usage`: containers often have a 64 MB /dev/shm, too small for renderers.
 * `--disable-gpu`: no GPU in CI; software rendering is deterministic enough for screenshots.
 */
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'];

export interface RecordedRequest {
  url: string;
  method: string;
  resourceType: string;
}

export interface BrowserSession {
  page: Page;
  /** Every request made by any page of the session, in order. */
  requests: RecordedRequest[];
  /** Saves a full-page screenshot as `test-artifacts/<name>.png` and returns its path. */
  screenshot(name: string, page?: Page): Promise<string>;
  close(): Promise<void>;
}

export function chromiumPath(): string {
  return process.env[ENV.chromium] || CHROMIUM.defaultPath;
}

export async function openBrowser(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<BrowserSession> {
  const executablePath = chromiumPath();
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}: run \`npm run bootstrap\` (as root it installs Debian's chromium), ` +
        `\`apt-get install -y ${CHROMIUM.aptPackages.join(' ')}\`, or set ${ENV.chromium} to a Chromium binary`,
    );
  }
  const browser: Browser = await chromium.launch({
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  let context: BrowserContext | undefined;
  try {
    context = await browser.newContext({ viewport: options.viewport ?? { width: 1400, height: 900 } });
    const requests: RecordedRequest[] = [];
    context.on('request', (request) =>
      requests.push({ url: request.url(), method: request.method(), resourceType: request.resourceType() }),
    );
    const page = await context.newPage();
    const opened = context;
    return {
      page,
      requests,
      async screenshot(name, target = page) {
        await mkdir(TEST_ARTIFACTS_DIR, { recursive: true });
        const path = join(TEST_ARTIFACTS_DIR, `${name}.png`);
        await target.screenshot({ path, fullPage: true });
        return path;
      },
      async close() {
        await opened.close();
        await browser.close();
      },
    };
  } catch (error) {
    await context?.close().catch(() => {});
    await browser.close();
    throw error;
  }
}
