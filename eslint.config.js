// Lint rules that keep the house style honest. The important one: workflow code must stay
// deterministic, so it may not import Node built-ins or any library that does I/O.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', '.fairline/**', 'trainer/**', 'test-artifacts/**', '**/*.tmp.ts'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
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
              group: ['**/store/*', '**/activities', '**/activities/*', '**/infra/*', '**/cli/*', '**/worker/*', '**/inference/*', '**/eval/*', '**/audit/*', '**/mining/*', '**/report/html', '**/report/svg', '**/common/paths', '**/common/connections', '**/temporal.config'],
              message: 'Node-side modules cannot run in the workflow sandbox (type-only imports are fine).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
