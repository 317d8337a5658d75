// Lint rules that keep the house style honest. The important one: workflow code must stay
// deterministic, so it may not import Node built-ins or any library that does I/O.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

// Layers, lowest first: a module imports its own layer and lower ones, never a higher one (type
// imports included: they couple as much). `temporal.config` is the root config file. bench/,
// scripts/ and test/ sit on top and may import anything; workflows/ has its own, stricter rule.
// stages/ holds two layers: the contracts (workflow-safe: the validator and workflows import
// them) sit with pipeline/, and the implementations (Node, I/O) with activities/. models/ (the
// built-in encoders, cached like the bootstrapped tools) needs only common/, and infra/'s bootstrap
// prebuilds them, so it sits between the two.
const LAYERS = [
  ['common'],
  ['models'],
  ['infra'],
  ['temporal.config'],
  ['store'],
  ['pipeline', 'stage contracts'],
  ['report'],
  ['eval', 'audit', 'mining', 'inference'],
  ['activities', 'stage implementations'],
  ['worker'],
  ['client'],
  ['cli'],
];
// The workflow-safe files of stages/: the contract registry, defineContract, and each stage's
// contract and errors. Every other file there is implementation.
const STAGE_CONTRACT_FILES = ['stages/index.ts', 'stages/define.ts', 'stages/*/contract.ts', 'stages/*/errors.ts'];
const STAGE_CONTRACT_MODULE = '(?:index|define|[^/]+/(?:contract|errors))$';
// Layers that are part of a folder: their files, and an import path (from outside the folder)
// that reaches them. A plain folder or root file is its own name.
const PARTS = {
  'stage contracts': {
    name: 'stages/<contracts>',
    files: STAGE_CONTRACT_FILES,
    ignores: [],
    target: `stages(?:$|/${STAGE_CONTRACT_MODULE})`,
  },
  'stage implementations': {
    name: 'stages/<implementations>',
    files: ['stages/**/*.ts'],
    ignores: STAGE_CONTRACT_FILES,
    target: `stages/(?!${STAGE_CONTRACT_MODULE})`,
  },
};
const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const describe = (member) =>
  PARTS[member] ? PARTS[member].name : member.includes('.') ? `${member}.ts` : `${member}/`;
const layerName = (layer) => layer.map((member) => (PARTS[member] ? PARTS[member].name : member)).join(' ');
/** The no-restricted-imports patterns that keep `member` (in layer `index`) off the layers above. */
function layerPatterns(index, member) {
  const higher = LAYERS.slice(index + 1).flat();
  return higher.map((target) => {
    // A root file (temporal.config.ts) reaches a folder as `./x`; a file in a folder as `../x`.
    const up = member.includes('.') ? '\\./' : '(?:\\.\\./)+';
    const path = PARTS[target] ? PARTS[target].target : `${escapeRegex(target)}(?:/|$)`;
    return {
      regex: `^${up}${path}`,
      message: `Layering: ${describe(member)} sits below ${describe(target)}; move what both need down instead (lowest first: ${LAYERS.map(layerName).join(' < ')}).`,
    };
  });
}
/**
 * Inside stages/, imports are relative to the stage folders, which the patterns above cannot
 * tell apart: a contract (and the contract registry) may reach only other contracts and errors.
 */
const CONTRACT_IMPLEMENTATION_MESSAGE =
  'Layering: stages/<contracts> sits below stages/<implementations>; move what both need down instead: a contract is workflow-safe (the validator and workflows import it), so it imports only contracts, errors and lower layers.';
const CONTRACT_SIBLINGS = [
  // A stage's contract or errors: its own folder's contract and errors, and other stages' contracts.
  {
    files: ['stages/*/contract.ts', 'stages/*/errors.ts'],
    regexes: ['^\\./(?!(?:contract|errors)$)', `^\\.\\./(?!\\.\\./)(?!${STAGE_CONTRACT_MODULE})`],
  },
  // The contract registry and defineContract: contracts and errors only.
  { files: ['stages/index.ts', 'stages/define.ts'], regexes: [`^\\./(?!${STAGE_CONTRACT_MODULE})`] },
];
const filesOf = (member) =>
  PARTS[member] ? PARTS[member].files : member.includes('.') ? [`${member}.ts`] : [`${member}/**/*.ts`];
const restrict = (patterns) => ({ '@typescript-eslint/no-restricted-imports': ['error', { patterns }] });
const layerConfigs = LAYERS.slice(0, -1).flatMap((layer, index) =>
  layer.flatMap((member) =>
    member === 'stage contracts'
      ? CONTRACT_SIBLINGS.map(({ files, regexes }) => ({
          files,
          rules: restrict([
            ...layerPatterns(index, member),
            ...regexes.map((regex) => ({ regex, message: CONTRACT_IMPLEMENTATION_MESSAGE })),
          ]),
        }))
      : [
          {
            files: filesOf(member),
            ignores: PARTS[member]?.ignores ?? [],
            rules: restrict(layerPatterns(index, member)),
          },
        ],
  ),
);
export default tseslint.config(
  { ignores: ['node_modules/**', '.fairline/**', 'trainer/**', 'test-artifacts/**', '**/*.tmp.ts'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Prettier wraps code at 120 columns (infra/format.ts); this also holds comments to it. String,
      // template and regex literals are left whole: a message split over lines cannot be grepped.
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
    },
  },
  ...layerConfigs,
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
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'],
              message: 'Workflows use @temporalio/workflow only.',
            },
            {
              group: [
                '**/store/*',
                '**/activities',
                '**/activities/*',
                '**/infra/*',
                '**/client/*',
                '**/cli/*',
                '**/worker/*',
                '**/inference/*',
                '**/eval/*',
                '**/audit/*',
                '**/mining/*',
                '**/report/html',
                '**/report/svg',
                '**/pipeline/rows',
                '**/models/builtin',
                '**/models/folder',
                '**/common/paths',
                '**/common/connections',
                '**/temporal.config',
                '!**/stages/**',
              ],
              message: 'Node-side modules cannot run in the workflow sandbox (type-only imports are fine).',
              allowTypeImports: true,
            },
            {
              // A stage's contract and errors are workflow-safe; its implementation and helpers are not.
              group: ['**/stages/implementations', '**/stages/*/*', '!**/stages/*/contract', '!**/stages/*/errors'],
              message:
                'Stage implementations run in activities: a workflow imports only stages/ contracts (type-only imports are fine).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
