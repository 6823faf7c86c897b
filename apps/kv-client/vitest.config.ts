import { packageConfig } from '../../vitest.shared.mjs';

// The integration tests spawn raftkitctl and etcdctl processes one after another; on a
// loaded 2-core machine a Node process start alone can take seconds.
export default packageConfig({ test: { testTimeout: 90_000 } });
