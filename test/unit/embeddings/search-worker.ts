/** Test helper: a worker thread that runs the embedding search kernel on a posted snapshot slice. */
import { parentPort } from 'node:worker_threads';
import { searchEmbeddingSlice, type EmbeddingProbe, type EmbeddingSlice } from '../../../core/biometrics/embeddings/embedding-search.js';

parentPort!.on('message', (task: { probe: EmbeddingProbe; slice: EmbeddingSlice }) => {
  parentPort!.postMessage(searchEmbeddingSlice(task.probe, task.slice));
});
