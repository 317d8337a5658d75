#!/usr/bin/env node
// The `fairline` command: loads the command line's kept bundle (cli/kept.mjs), built from the
// sources as they are now, or when none can be had, registers tsx so the TypeScript sources run
// as they are; then hands over to cli/main.ts.
import { keptBundle } from './kept.mjs';

const kept = process.env.FAIRLINE_CLI_SOURCES === '1' ? undefined : await keptBundle();
let loaded = false;
if (kept) {
  process.setSourceMapsEnabled(true);
  try {
    await import(kept);
    loaded = true;
  } catch (error) {
    // Removed between its check and its import by a command that rebuilt it for edited
    // sources: nothing of it ran, so the sources can. Any other error is the command's own.
    if (!(error?.code === 'ERR_MODULE_NOT_FOUND' && error?.url === kept)) throw error;
  }
}
if (!loaded) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
}
