// Lint: ESLint's and typescript-eslint's recommended rules, not the type-checked sets (those need a
// whole program per run and would make `npm run lint` as slow as the build).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'build/', 'node_modules/', 'runs/', '.cache/', '.gpu-carry/', 'gpu-check/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // The refactoring's line limit; Prettier (printWidth 120) does not break comments and strings.
      'max-len': ['error', { code: 120, ignoreUrls: true }],
      '@typescript-eslint/no-explicit-any': 'error',
      // A leading underscore marks a parameter or binding that is unused on purpose (an overridable
      // hook's signature, a property dropped from a rest spread, a loop that only drains an iterator).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The build scripts run under Node outside the TypeScript program.
    files: ['**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
  {
    // A .cjs file is CommonJS by name (binding.gyp runs scripts/libtorch.cjs): require is its import.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
