import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Which kind of project may import which: the layering of docs/style.md, enforced.
const depConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:feature', 'type:util', 'type:contracts', 'type:protocol', 'type:testing'] },
  { sourceTag: 'type:feature', onlyDependOnLibsWithTags: ['type:util', 'type:contracts', 'type:protocol'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:util', 'type:contracts', 'type:protocol'] },
  { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util', 'type:contracts'] },
  { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'type:protocol', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'scope:checkin', onlyDependOnLibsWithTags: ['scope:checkin', 'scope:shared'] },
  { sourceTag: 'scope:commands', onlyDependOnLibsWithTags: ['scope:commands', 'scope:shared'] },
  { sourceTag: 'scope:escrow', onlyDependOnLibsWithTags: ['scope:escrow', 'scope:shared'] },
  { sourceTag: 'scope:provisioning', onlyDependOnLibsWithTags: ['scope:provisioning', 'scope:shared'] },
  { sourceTag: 'scope:simulator', onlyDependOnLibsWithTags: ['scope:simulator', 'scope:shared'] },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:all', onlyDependOnLibsWithTags: ['scope:checkin', 'scope:commands', 'scope:escrow', 'scope:provisioning', 'scope:shared'] },
];

// A known shortcoming is written TODO(#<issue>): what and when it goes away. A bare one is refused.
const turnaround = {
  rules: {
    'todo-names-an-issue': {
      meta: { type: 'suggestion', messages: { bare: 'Write TODO(#<issue>): what and when it goes away.' } },
      create(context) {
        return {
          Program() {
            for (const comment of context.sourceCode.getAllComments()) {
              if (/\b(TODO|FIXME|XXX)\b(?!\(#\d+\))/.test(comment.value)) {
                context.report({ loc: comment.loc, messageId: 'bare' });
              }
            }
          },
        };
      },
    },
  },
};

// Specs may also use the shared test helpers (type:testing), which production code may not.
const specConstraints = depConstraints.map((constraint) =>
  constraint.sourceTag.startsWith('type:') && constraint.sourceTag !== 'type:contracts' && constraint.sourceTag !== 'type:protocol'
    ? { ...constraint, onlyDependOnLibsWithTags: [...new Set([...constraint.onlyDependOnLibsWithTags, 'type:testing'])] }
    : constraint,
);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', '**/*.js'] },
  {
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'tools/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: {
      '@nx/enforce-module-boundaries': ['error', { allow: [], depConstraints, enforceBuildableLibDependency: false }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      'turnaround/todo-names-an-issue': 'error',
    },
    plugins: { '@nx': nx, '@typescript-eslint': tseslint.plugin, turnaround },
  },
  {
    files: ['**/*.spec.ts'],
    rules: {
      '@nx/enforce-module-boundaries': ['error', { allow: [], depConstraints: specConstraints, enforceBuildableLibDependency: false }],
    },
  },
);
