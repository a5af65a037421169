/**
 * The writer side of the shared gallery (layout in gallery-search.ts). Only the engine's thread
 * writes. Removal leaves a hole; when holes outweigh live data the gallery is compacted into new
 * buffers. Growth and compaction allocate new SharedArrayBuffers and never touch the old ones, so
 * a search already dispatched keeps reading a consistent snapshot.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import { directoryStride } from './gallery-search.js';

const bytesPerWord = 4;
/** Room per template allocated up front: templates average about 380 words (FVC2002) to 420 (synthetic). */
const typicalTemplateWords = 512;
const minimumCompactionWords = 1 << 16;

export interface GallerySnapshot {
  data: SharedArrayBuffer;
  directory: SharedArrayBuffer;
  slotCount: number;
  /** Slot to id at snapshot time (compaction renumbers slots into a new array). */
  slotIds: readonly (string | undefined)[];
}

export class SharedGallery {
  private data: SharedArrayBuffer;
  private directory: SharedArrayBuffer;
  private words: Uint32Array;
  private entries: Int32Array;
  private usedWords = 0;
  private deadWords = 0;
  private slotCount = 0;
  private slotIds: (string | undefined)[] = [];
  private readonly slotsById = new Map<string, number>();
  private readonly hintCounts = new Map<number, number>();
  private compactions = 0;

  constructor(private readonly maxTemplates: number, capacityTemplates: number) {
    const capacity = Math.max(16, Math.min(capacityTemplates, maxTemplates));
    this.data = new SharedArrayBuffer(capacity * typicalTemplateWords * bytesPerWord);
    this.directory = new SharedArrayBuffer(capacity * directoryStride * Int32Array.BYTES_PER_ELEMENT);
    this.words = new Uint32Array(this.data);
    this.entries = new Int32Array(this.directory);
  }

  /** Changes whenever slots are renumbered (an index keyed by slot must then be rebuilt). */
  get generation(): number {
    return this.compactions;
  }

  /** Live templates enrolled with this hint hash. */
  hintCount(hintHash: number): number {
    return this.hintCounts.get(hintHash) ?? 0;
  }

  get size(): number {
    return this.slotsById.size;
  }

  /** Bytes of shared memory held (data and directory buffers, spare room included). */
  get bytes(): number {
    return this.data.byteLength + this.directory.byteLength;
  }

  /** Bytes the live templates and their directory entries take. */
  get liveBytes(): number {
    return (this.usedWords - this.deadWords + this.size * directoryStride) * bytesPerWord;
  }

  snapshot(): GallerySnapshot {
    return { data: this.data, directory: this.directory, slotCount: this.slotCount, slotIds: this.slotIds };
  }

  has(id: string): boolean {
    return this.slotsById.has(id);
  }

  /** Stores a matcher-form template under id, replacing an earlier one with the same id; returns its slot. */
  put(id: string, template: Uint32Array, hintHash: number): number {
    this.remove(id);
    if (this.slotsById.size >= this.maxTemplates) {
      throw new BiopayError(ErrorCode.Unavailable, `gallery is full (${this.maxTemplates} templates)`);
    }
    if (this.deadWords > minimumCompactionWords && this.deadWords > this.usedWords - this.deadWords) this.compact();
    this.reserve(template.length, 1);
    const slot = this.slotCount;
    this.words.set(template, this.usedWords);
    const entry = slot * directoryStride;
    this.entries[entry] = this.usedWords;
    this.entries[entry + 2] = hintHash;
    // Published last: a concurrent reader sees either no slot or a complete one.
    Atomics.store(this.entries, entry + 1, template.length);
    this.usedWords += template.length;
    this.slotCount++;
    this.slotIds[slot] = id;
    this.slotsById.set(id, slot);
    this.hintCounts.set(hintHash, this.hintCount(hintHash) + 1);
    return slot;
  }

  remove(id: string): boolean {
    const slot = this.slotsById.get(id);
    if (slot === undefined) return false;
    const entry = slot * directoryStride;
    this.deadWords += this.entries[entry + 1]!;
    const hint = this.entries[entry + 2]!;
    const left = this.hintCount(hint) - 1;
    if (left > 0) this.hintCounts.set(hint, left);
    else this.hintCounts.delete(hint);
    Atomics.store(this.entries, entry + 1, 0);
    this.slotsById.delete(id);
    this.slotIds[slot] = undefined;
    return true;
  }

  /** Makes room for `words` more data words and `slots` more slots, in new buffers if needed. */
  private reserve(words: number, slots: number): void {
    const needWords = this.usedWords + words;
    const needSlots = this.slotCount + slots;
    const haveWords = this.words.length;
    const haveSlots = this.entries.length / directoryStride;
    if (needWords <= haveWords && needSlots <= haveSlots) return;
    this.reallocate(Math.max(haveWords, needWords * 2), Math.max(haveSlots, Math.min(needSlots * 2, this.maxTemplates + 1)));
  }

  private reallocate(wordCapacity: number, slotCapacity: number): void {
    const data = new SharedArrayBuffer(wordCapacity * bytesPerWord);
    const directory = new SharedArrayBuffer(slotCapacity * directoryStride * Int32Array.BYTES_PER_ELEMENT);
    new Uint32Array(data).set(this.words.subarray(0, this.usedWords));
    new Int32Array(directory).set(this.entries.subarray(0, this.slotCount * directoryStride));
    this.adopt(data, directory);
  }

  private adopt(data: SharedArrayBuffer, directory: SharedArrayBuffer): void {
    this.data = data;
    this.directory = directory;
    this.words = new Uint32Array(data);
    this.entries = new Int32Array(directory);
  }

  /** Rewrites the live templates densely into new buffers; slots are renumbered. */
  private compact(): void {
    const liveWords = this.usedWords - this.deadWords;
    const slots = this.slotsById.size;
    const data = new SharedArrayBuffer(Math.max(liveWords * 2, 1) * bytesPerWord);
    const directory = new SharedArrayBuffer(Math.max(16, Math.min(slots * 2, this.maxTemplates + 1)) * directoryStride * Int32Array.BYTES_PER_ELEMENT);
    const words = new Uint32Array(data);
    const entries = new Int32Array(directory);
    const ids: string[] = [];
    let used = 0;
    for (let slot = 0; slot < this.slotCount; slot++) {
      const id = this.slotIds[slot];
      if (id === undefined) continue;
      const entry = slot * directoryStride;
      const [offset, length, hint] = [this.entries[entry]!, this.entries[entry + 1]!, this.entries[entry + 2]!];
      words.set(this.words.subarray(offset, offset + length), used);
      const target = ids.length * directoryStride;
      entries[target] = used;
      entries[target + 1] = length;
      entries[target + 2] = hint;
      used += length;
      ids.push(id);
    }
    this.adopt(data, directory);
    this.compactions++;
    this.usedWords = used;
    this.deadWords = 0;
    this.slotCount = ids.length;
    this.slotIds = ids;
    this.slotsById.clear();
    ids.forEach((id, slot) => this.slotsById.set(id, slot));
  }
}
