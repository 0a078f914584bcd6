import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // pip's default index is unreachable here: fail at once instead of retrying with back-off.
    // The SDK's credential chain would ask EC2's instance metadata service (a link-local address) when
    // nothing else answers: never from a test; the test of that path points it at 127.0.0.1.
    // Azure's chain likewise (managed identity): only its developer credentials, which the tests answer with a stand-in `az`.
    env: { PIP_RETRIES: '0', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', AWS_EC2_METADATA_DISABLED: 'true', AZURE_TOKEN_CREDENTIALS: 'dev' },
  },
});
