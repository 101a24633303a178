// Tests are written in TypeScript and compiled by `tsc` (the same build the CLI runs from), so jest
// runs plain ESM JavaScript from dist/ with no transformer in between.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist'],
  modulePathIgnorePatterns: ['<rootDir>/node_modules'],
  testMatch: ['**/*.test.js'],
  transform: {},
  testTimeout: 60_000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/scripts/summary-reporter.cjs'],
};
