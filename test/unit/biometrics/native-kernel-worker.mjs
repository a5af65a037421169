// Test helper: a worker thread reporting which kernel a default matcher runs there, from the
// compiled dist/ (built by the suite's global setup; Node 20 cannot load a .ts worker file), so
// that it also finds the addon from dist/core/biometrics as the built nodes do.
import { parentPort } from 'node:worker_threads';
import { MccMatcher } from '../../../dist/core/biometrics/mcc-matcher.js';

parentPort.postMessage(new MccMatcher().kernelName);
