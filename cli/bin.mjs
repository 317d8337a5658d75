#!/usr/bin/env node
// The `fairline` command: loads the command line's kept bundle (cli/kept.mjs), built from the
// sources as they are now, or when none can be had, registers tsx so the TypeScript sources run
// as they are; then hands over to cli/main.ts.
import { createRequire } from 'node:module';
import { keptBundle } from './kept.mjs';

const kept = process.env.FAIRLINE_CLI_SOURCES === '1' ? undefined : await keptBundle();
let loaded = false;
if (kept) {
  process.setSourceMapsEnabled(true);
  try {
    // require, not import: the bundle is CommonJS (cli/kept.mjs says why).
    createRequire(import.meta.url)(kept);
    loaded = true;
  } catch (error) {
    // Removed between its check and its load by a command that rebuilt it for edited sources:
    // nothing of it ran, so the sources can. Any other error is the command's own.
    if (!(error?.code === 'MODULE_NOT_FOUND' && !error.requireStack?.includes(kept))) throw error;
  }
}
if (!loaded) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
}
