// Lint rules that keep the house style honest. The important one: workflow code must stay
// deterministic, so it may not import Node built-ins or any library that does I/O.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

// Layers, lowest first: a module imports its own layer and lower ones, never a higher one (type
// imports included: they couple as much). `temporal.config` is the root config file. bench/,
// scripts/ and test/ sit on top and may import anything; workflows/ has its own, stricter rule.
const LAYERS = [
  ['common', 'infra'],
  ['temporal.config'],
  ['store'],
  ['pipeline'],
  ['report'],
  ['eval', 'audit', 'mining', 'inference', 'models'],
  ['activities'],
  ['worker'],
  ['client'],
  ['cli'],
];
// Back-edges that exist today and are to be removed by moving code (issue 15, item 4), each
// allowed for its one file and import only, so that no new one can join them. common/errors.ts's
// inline `import('../pipeline/run-spec').Json` type is another, which this rule cannot see.
const KNOWN_BACK_EDGES = {
  'common/connections.ts': ['temporal.config'],
  'inference/engine.ts': ['activities/stages/context', 'activities/stages/ner-mask/files'],
  'mining/pool.ts': ['activities/stages/rows'],
  // Bootstrap is an entry point (npm run bootstrap) that prebuilds the built-in models.
  'infra/bootstrap.ts': ['models/builtin', 'pipeline/model-ref'],
};
const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The no-restricted-imports patterns that keep `folder` (in layer `index`) off the layers above. */
function layerPatterns(index, folder, allowed = []) {
  const higher = LAYERS.slice(index + 1).flat();
  return higher.map((target) => {
    const exempt = allowed.filter((a) => a === target || a.startsWith(`${target}/`)).map(escapeRegex);
    const lookahead = exempt.length > 0 ? `(?!(?:${exempt.join('|')})$)` : '';
    // A root file (temporal.config.ts) reaches a folder as `./x`; a file in a folder as `../x`.
    const up = folder.includes('.') ? '\\./' : '(?:\\.\\./)+';
    return {
      regex: `^${up}${lookahead}${escapeRegex(target)}(?:/|$)`,
      message: `Layering: ${folder.includes('.') ? `${folder}.ts` : `${folder}/`} sits below ${target}; move what both need down instead (lowest first: ${LAYERS.map((l) => l.join(' ')).join(' < ')}).`,
    };
  });
}
const filesOf = (folder) => (folder.includes('.') ? [`${folder}.ts`] : [`${folder}/**/*.ts`]);
const layerConfigs = LAYERS.slice(0, -1).flatMap((layer, index) =>
  layer.map((folder) => ({
    files: filesOf(folder),
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: layerPatterns(index, folder) }] },
  })),
);
const backEdgeConfigs = Object.entries(KNOWN_BACK_EDGES).map(([file, allowed]) => {
  const folder = file.split('/')[0];
  const index = LAYERS.findIndex((layer) => layer.includes(folder));
  return { files: [file], rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: layerPatterns(index, folder, allowed) }] } };
});

export default tseslint.config(
  { ignores: ['node_modules/**', '.fairline/**', 'trainer/**', 'test-artifacts/**', '**/*.tmp.ts'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layerConfigs,
  ...backEdgeConfigs,
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflows are deterministic: do I/O in an activity.' })),
          patterns: [
            { group: ['@aws-sdk/*'], message: 'Workflows do no I/O: use the artifact store from an activity.' },
            { group: ['onnxruntime-node', 'onnxruntime-*'], message: 'Inference runs in activities.' },
            { group: ['yaml'], message: 'YAML is parsed in the client; workflows receive the validated spec.' },
            { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'], message: 'Workflows use @temporalio/workflow only.' },
            {
              group: ['**/store/*', '**/activities', '**/activities/*', '**/infra/*', '**/client/*', '**/cli/*', '**/worker/*', '**/inference/*', '**/eval/*', '**/audit/*', '**/mining/*', '**/report/html', '**/report/svg', '**/common/paths', '**/common/connections', '**/temporal.config'],
              message: 'Node-side modules cannot run in the workflow sandbox (type-only imports are fine).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
