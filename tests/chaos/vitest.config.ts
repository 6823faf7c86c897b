import { packageConfig } from '../../vitest.shared.mjs';

// The end-to-end files each run a cluster of real processes: one at a time.
export default packageConfig({ test: { fileParallelism: false } });
