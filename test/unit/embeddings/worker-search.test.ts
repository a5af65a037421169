import { once } from 'node:events';
import { threadId, Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddingGallery } from '../../../core/biometrics/embeddings/embedding-gallery.js';
import type { EmbeddingSliceResult } from '../../../core/biometrics/embeddings/embedding-search.js';
import { SyntheticEmbeddingModel } from '../../../core/biometrics/embeddings/synthetic.js';

// The kernel compiled to dist/ (JavaScript): a worker thread cannot load TypeScript under Node 20.
const worker = new Worker(new URL('./search-worker.mjs', import.meta.url));

afterAll(async () => {
  await worker.terminate();
});

describe('the search kernel in a worker thread', () => {
  it.each(['float32', 'int8'] as const)('reads the %s gallery through its SharedArrayBuffers and agrees with this thread', async (quantization) => {
    const model = new SyntheticEmbeddingModel({ dimension: 64, seed: 2, noise: 0.5 });
    const gallery = new EmbeddingGallery({ modality: 'face', dimension: 64, quantization });
    for (let person = 0; person < 500; person++) gallery.add(`p${person}`, model.capture(person, 0));
    const snapshot = gallery.snapshot();
    const probe = gallery.prepareProbe(model.capture(321, 1));
    const slice = { ...snapshot, slotIds: undefined, fromSlot: 250, toSlot: snapshot.slotCount, hintHash: 0, topK: 3 };
    worker.postMessage({ probe, slice });
    const [answer] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([error]) => { throw error; })])) as [
      { result?: EmbeddingSliceResult; error?: string; threadId?: number },
    ];
    expect(answer.error).toBeUndefined();
    expect(answer.threadId).toBe(worker.threadId);
    expect(answer.threadId).not.toBe(threadId);
    const result = answer.result!;
    expect(result.searched).toBe(250);
    expect(snapshot.slotIds[result.slots[0]!]).toBe('p321');
    const local = gallery.search(model.capture(321, 1), { topK: 1 }).candidates[0]!;
    expect(result.scores[0]).toBe(local.score);
  });
});
