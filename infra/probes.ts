/**
 * Finds the external tools bootstrap needs, each asked the way that tool really answers: Go has no
 * `--version` flag (it exits 2 on it), so it is `go version`; Python, Node and apt-get take
 * `--version`. A probe never decides "missing" from an exit code alone: it keeps what the tool
 * printed, so a failure can show the user the tool's own words.
 */
import { spawn } from 'node:child_process';

/** How to ask one tool for its version, and how to read the answer. */
export interface ToolProbe {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Pulls `[major, minor]` out of the tool's answer; undefined when the answer has no version. */
  readonly parse: (output: string) => readonly [number, number] | undefined;
  /** The oldest version fairline works with, and why; undefined when any version will do. */
  readonly minimum?: { readonly version: readonly [number, number]; readonly reason: string };
}

const versionAfter =
  (prefix: RegExp) =>
  (output: string): readonly [number, number] | undefined => {
    const match = prefix.exec(output);
    return match ? [Number(match[1]), Number(match[2])] : undefined;
  };

/** Every tool bootstrap may run. */
export const TOOLS = {
  go: {
    name: 'Go',
    command: 'go',
    args: ['version'],
    parse: versionAfter(/go version go(\d+)\.(\d+)/),
    // temporalio/cli v1.5.1's go.mod says `go 1.25.0`; MinIO's pinned commit says `go 1.24.0`.
    minimum: { version: [1, 25], reason: 'the Temporal CLI v1.5.1 module says go 1.25.0' },
  },
  python: {
    name: 'Python',
    command: 'python3',
    args: ['--version'],
    parse: versionAfter(/Python (\d+)\.(\d+)/),
    minimum: { version: [3, 10], reason: 'torch 2.9 and transformers 4.57 need Python 3.10' },
  },
  node: {
    name: 'Node.js',
    command: 'node',
    args: ['--version'],
    parse: versionAfter(/v(\d+)\.(\d+)/),
    minimum: { version: [20, 0], reason: 'package.json engines' },
  },
  aptGet: {
    name: 'apt-get',
    command: 'apt-get',
    args: ['--version'],
    parse: versionAfter(/apt (\d+)\.(\d+)/),
  },
} as const satisfies Record<string, ToolProbe>;

/** What a probe found. `output` is the tool's own answer (stdout and stderr), trimmed. */
export type ProbeResult =
  | { readonly found: true; readonly tool: ToolProbe; readonly version: string; readonly output: string }
  | { readonly found: false; readonly tool: ToolProbe; readonly reason: string; readonly output: string };

const PROBE_TIMEOUT_MS = 15_000;

/** Runs one probe on `env.PATH` (argv, no shell) and judges the answer. */
export function probe(tool: ToolProbe, env: NodeJS.ProcessEnv = process.env): Promise<ProbeResult> {
  const shown = `\`${[tool.command, ...tool.args].join(' ')}\``;
  return new Promise((done) => {
    const child = spawn(tool.command, [...tool.args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: PROBE_TIMEOUT_MS,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'ENOENT' ? `${tool.command} is not on PATH` : `${shown} failed to start: ${error.message}`;
      done({ found: false, tool, reason, output: '' });
    });
    child.on('close', (code, signal) => {
      const text = output.trim();
      if (code !== 0) {
        return done({ found: false, tool, reason: `${shown} exited with ${code ?? signal}`, output: text });
      }
      const version = tool.parse(text);
      if (!version) return done({ found: false, tool, reason: `${shown} answered without a version`, output: text });
      const minimum = 'minimum' in tool ? tool.minimum : undefined;
      if (minimum && compareVersions(version, minimum.version) < 0) {
        return done({
          found: false,
          tool,
          reason: `${tool.name} ${version.join('.')} is older than ${minimum.version.join('.')} (${minimum.reason})`,
          output: text,
        });
      }
      done({ found: true, tool, version: version.join('.'), output: text });
    });
  });
}

function compareVersions(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

/** One line for a failed probe, with the tool's own answer when it gave one. */
export function describeMissing(result: Extract<ProbeResult, { found: false }>): string {
  const said = result.output ? `; it said: ${result.output.split('\n').slice(0, 3).join(' / ')}` : '';
  return `${result.reason}${said}`;
}
