import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'dist', '.data', '.temporal-venv', '.fuzz-venv', 'db/migrations', 'bench/results'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed: it must not read the clock or randomness except through the SDK.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // The pure modules of domain/ that workflows share: statuses, and Markdown-escaped text for the Temporal UI.
              group: [
                'node:*',
                '../db/*',
                '../activities/*',
                '../api/*',
                '../domain/*',
                '!../domain/enrolment-status.js',
                '!../domain/markdown-text.js',
              ],
              allowTypeImports: true,
            },
          ],
        },
      ],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Workflow code must be deterministic' }],
    },
  },
  {
    // The API contract lives in api/schemas/: routes, services and the OpenAPI assembler import
    // its schemas rather than build their own (a type from zod, such as z.input, is fine).
    files: ['api/routes/**/*.ts', 'api/services/**/*.ts', 'api/openapi.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: 'zod', message: 'Schemas live in api/schemas/<concept>.ts', allowTypeImports: true }] },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
