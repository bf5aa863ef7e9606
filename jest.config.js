// Two projects: `unit` (pure logic, no servers) and `integration` (a real kube-apiserver + etcd
// and the ZMS test server, one control plane per test file).
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform,
  // jest's node environment, which also removes each test file's temporary folders at its end.
  testEnvironment: '<rootDir>/test/support/jest-environment.js',
  // ts-jest rewrites our `.ts` import specifiers to `.js`; map them back to the sources.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

export default {
  reporters: ['default', '<rootDir>/hack/summary-reporter.js'],
  // Integration tests wait on real servers with their own deadlines; this is only the backstop.
  testTimeout: 30_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      slowTestThreshold: 30,
    },
  ],
};
