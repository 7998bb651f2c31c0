import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }]
    }
  },
  {
    // The Raft core is a pure state machine: no I/O, no clock, no randomness (STYLE.md). What does I/O for it (the
    // host loop, LevelDB storage) lives in src/strong.
    files: ['src/raft/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', 'fs', 'net', 'http', 'level', 'libp2p', '@libp2p/*', 'fastify', '../gitstore/*', '../p2p/*', '../api/*', '../node/*', '../cli/*', '../client/*', '../strong/*'] }],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'process', 'performance'],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'the Raft core takes time as ticks' },
        { object: 'Math', property: 'random', message: 'randomness is injected' }]
    }
  },
  {
    // Strong operations sit beside the Raft core and below the node: they reach the git store through
    // StrongEffectsPort and the network through RaftTransport, both injected by the node.
    files: ['src/strong/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../gitstore/*', '../p2p/*', '../api/*', '../node/*', '../cli/*', '../client/*', 'libp2p', '@libp2p/*', 'fastify'] }]
    }
  },
  {
    // One-way flow: gitstore, raft and p2p never import each other, nor the layers above them.
    files: ['src/gitstore/**/*.ts', 'src/p2p/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../raft/*', '../strong/*', '../p2p/*', '../gitstore/*', '../api/*', '../node/*', '../cli/*'] }]
    }
  },
  {
    // The node composes the store, replication and strong operations; front ends call it and it never imports them
    // (decision 0107). Only src/daemon joins the node and the HTTP API.
    files: ['src/node/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../api/*', '../cli/*', '../daemon/*', '../client/*', 'fastify'] }]
    }
  },
  {
    files: ['src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../cli/*', '../daemon/*', '../node/node.js'] }]
    }
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } }
  }
)
