// ESLint 9 flat config. typescript-eslint's recommended rules over the TypeScript (src, test,
// bench, scripts), ESLint's own over the JavaScript: the console's browser scripts, the examples
// and the config files. eslint-config-prettier comes last: layout is Prettier's alone.
//
// Not type-aware: typescript-eslint's type-checked rules made a run four times slower here and
// found no floating or misused promise, only `any` flowing out of JSON.parse and Redis replies.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.bench/'] },
  // a directive that silences nothing any more is an error: the reasons they give stay true
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommended],
    rules: {
      // `_next` keeps an Express error handler's four parameters (Express tells them apart by
      // arity); `const { key: _gone, ...rest } = obj` drops a key; `[, _skip, x]` skips an item
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', ignoreRestSiblings: true, destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // matching control characters is what these do: the escaping of text for a terminal, and
    // the tests that check no raw escape reaches one
    files: ['src/util/printable.ts', 'test/**/*.ts'],
    rules: { 'no-control-regex': 'off' },
  },
  {
    // tests match printed tables with their spaces as printed: "x+…  1" reads better than "x+… {2}1"
    files: ['test/**/*.ts'],
    rules: { 'no-regex-spaces': 'off' },
  },
  {
    // the console: classic scripts (<script defer> in index.html), no bundler and no modules;
    // each is an IIFE that hands what it makes over on window (wizardLib, wizardConsole, wizardCharts)
    files: ['src/roles/api/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, Alpine: 'readonly' } },
  },
  {
    files: ['*.js', 'examples/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
  prettier,
);
