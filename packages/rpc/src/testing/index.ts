// @raftkit/rpc/testing: helpers for tests of TLS set-ups (not for production use).
export { hasOpenssl, makeTestPki, type TestCertificate, type TestPki } from './test-pki.js';
