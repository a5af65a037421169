// Test helper: a worker thread running the compiled embedding search kernel (dist/, built by the
// suite's global setup) on a posted snapshot slice. Node 20 cannot load a .ts worker file, so the
// worker runs JavaScript, as piscina tasks do.
import { parentPort, threadId } from 'node:worker_threads';
import { searchEmbeddingSlice } from '../../../dist/core/biometrics/embeddings/embedding-search.js';

parentPort.on('message', (task) => {
  try {
    parentPort.postMessage({ threadId, result: searchEmbeddingSlice(task.probe, task.slice) });
  } catch (error) {
    parentPort.postMessage({ error: String(error) });
  }
});
