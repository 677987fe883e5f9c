// ESLint (flat config) with typescript-eslint's type-aware rules: the ones that catch bugs the type
// checker lets through (a promise nobody awaits or catches, an async function where a callback's
// result is ignored, `await` on what is not a promise, a condition that is always true). Style is
// Prettier's business (.prettierrc.json), not ESLint's. `npm run lint`; CI runs it after the tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
    {
        ignores: ['node_modules/**', 'dist/**', 'out/**', 'language/generated/**', '.e2e/**', 'bench/.cache/**', 'test/.artifacts/**', '**/*.d.mts', '*.vsix'],
    },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        files: ['**/*.ts'],
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        rules: {
            '@typescript-eslint/no-floating-promises': 'error',
            '@typescript-eslint/no-misused-promises': 'error',
            '@typescript-eslint/await-thenable': 'error',
            '@typescript-eslint/require-await': 'off', // an async function without await is harmless
            // Off: the code rethrows caught values after narrowing them (Langium's cancellation is a symbol).
            '@typescript-eslint/only-throw-error': 'off',
            '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
            '@typescript-eslint/return-await': ['error', 'in-try-catch'],
            // `_`-prefixed names are deliberately unused (a parameter a signature requires).
            '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
            // The non-null assertions sit where an index or a find was checked a line before.
            '@typescript-eslint/no-non-null-assertion': 'off',
            // FFI bindings (koffi) and fixtures of untyped JSON need `any` in a few places.
            '@typescript-eslint/no-explicit-any': 'off',
            // A generator method reads `this` through `self` (a generator function has its own `this`).
            '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['self'] }],
            // ANSI colour codes in tests and Python's whitespace class in matching are deliberate control characters.
            'no-control-regex': 'off',
            eqeqeq: ['error', 'always', { null: 'ignore' }],
            'no-constant-condition': ['error', { checkLoops: 'allExceptWhileTrue' }],
        },
    },
    {
        files: ['**/*.cjs'],
        languageOptions: { sourceType: 'commonjs', globals: { exports: 'writable' } },
        rules: { '@typescript-eslint/no-require-imports': 'off' },
    },
    {
        files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
        languageOptions: {
            globals: {
                process: 'readonly',
                console: 'readonly',
                Buffer: 'readonly',
                URL: 'readonly',
                setTimeout: 'readonly',
                clearTimeout: 'readonly',
                setInterval: 'readonly',
                clearInterval: 'readonly',
                __dirname: 'readonly',
                require: 'readonly',
                module: 'writable',
                globalThis: 'readonly',
                fetch: 'readonly',
            },
        },
    },
);
