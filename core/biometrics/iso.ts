/**
 * Strict reader and writer of ISO/IEC 19794-2:2005 finger minutiae records (all big-endian).
 *
 * Hostile input is the norm here (templates come from terminals and enrollment clients): every
 * length is checked before it is read, the record must be consumed exactly, and anything we cannot
 * parse with certainty is refused with a reason rather than half-read. ANSI INCITS 378 shares the
 * magic and version string of the 2005 ISO format but not its header layout; it is recognised by
 * its length field and refused, never misread.
 */
import { BiopayError, ErrorCode } from '../errors.js';

export type MinutiaType = 'ending' | 'bifurcation' | 'other';

export interface Minutia {
  xPx: number;
  yPx: number;
  /** Counter-clockwise, in [0, 2π). Stored with a resolution of 2π/256. */
  angleRad: number;
  type: MinutiaType;
  /** 0-100; 0 when the extractor gives none. */
  quality: number;
}

export interface FingerView {
  /** 0 unknown, 1-10 right thumb .. left little. */
  fingerPosition: number;
  viewNumber: number;
  impressionType: number;
  quality: number;
  minutiae: Minutia[];
}

export interface IsoRecord {
  widthPx: number;
  heightPx: number;
  xResolutionPpcm: number;
  yResolutionPpcm: number;
  /** Raw u16: compliance bits 12-15, device id bits 0-11. */
  captureEquipment: number;
  views: FingerView[];
}

const headerBytes = 24;
const viewHeaderBytes = 4;
const minutiaBytes = 6;
const extendedLengthBytes = 2;
const extendedBlockHeaderBytes = 4;
const coordinateMax = 0x3fff;
const qualityMax = 100;
const fingerPositionMax = 10;
const viewNumberMax = 15;
const minutiaCountMax = 255;
const viewCountMax = 255;
/** Live-scan plain/rolled, non-live plain/rolled, swipe, contactless. */
const impressionTypes: ReadonlySet<number> = new Set([0, 1, 2, 3, 8, 9]);
const angleUnitsPerTurn = 256;
const typeCodes: Record<number, MinutiaType | undefined> = { 0: 'other', 1: 'ending', 2: 'bifurcation' };
const typeValues: Record<MinutiaType, number> = { other: 0, ending: 1, bifurcation: 2 };
const magic = [0x46, 0x4d, 0x52, 0x00]; // "FMR\0"
const version2005 = [0x20, 0x32, 0x30, 0x00]; // " 20\0"

function invalid(reason: string): BiopayError {
  return new BiopayError(ErrorCode.InvalidTemplate, reason);
}

/** Bounds-checked big-endian cursor; every read past the end is a refusal, not a RangeError. */
class Reader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  require(count: number, what: string): void {
    if (count > this.remaining) {
      throw invalid(`truncated record: ${what} needs ${count} bytes at offset ${this.offset}, ${this.remaining} left`);
    }
  }

  u8(what: string): number {
    this.require(1, what);
    return this.bytes[this.offset++]!;
  }

  u16(what: string): number {
    this.require(2, what);
    const value = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return value;
  }

  skip(count: number, what: string): void {
    this.require(count, what);
    this.offset += count;
  }
}

function u16At(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

function u32At(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

function startsWith(bytes: Uint8Array, offset: number, expected: readonly number[]): boolean {
  return expected.every((value, index) => bytes[offset + index] === value);
}

function versionText(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(4, 8), (code) => (code >= 0x20 && code < 0x7f ? String.fromCharCode(code) : '.')).join('');
}

/** ANSI INCITS 378-2004: u16 record length at offset 8, or 0 followed by a u32 length. */
function looksLikeAnsi378(bytes: Uint8Array): boolean {
  const shortLength = u16At(bytes, 8);
  if (shortLength !== 0) return shortLength === bytes.length;
  return bytes.length >= 14 && u32At(bytes, 10) === bytes.length;
}

function checkHeader(bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array)) throw invalid('template must be bytes');
  if (bytes.length < headerBytes) throw invalid(`truncated record: ${bytes.length} bytes, header needs ${headerBytes}`);
  if (!startsWith(bytes, 0, magic)) throw invalid('not a finger minutiae record (magic is not "FMR\\0")');
  if (!startsWith(bytes, 4, version2005)) {
    throw invalid(`unsupported record version "${versionText(bytes)}" (only ISO/IEC 19794-2:2005 " 20" is read)`);
  }
  const declaredLength = u32At(bytes, 8);
  if (declaredLength === bytes.length) return;
  if (looksLikeAnsi378(bytes)) throw invalid('ANSI INCITS 378 record (header layout differs from ISO/IEC 19794-2:2005): not supported');
  if (declaredLength > bytes.length) {
    throw invalid(`truncated record: header declares ${declaredLength} bytes, ${bytes.length} present`);
  }
  throw invalid(`record length mismatch: header declares ${declaredLength} bytes, ${bytes.length} present`);
}

function readMinutia(reader: Reader, index: number, widthPx: number, heightPx: number): Minutia {
  const typeAndX = reader.u16(`minutia ${index}`);
  const reservedAndY = reader.u16(`minutia ${index}`);
  const angleUnits = reader.u8(`minutia ${index}`);
  const quality = reader.u8(`minutia ${index}`);
  const type = typeCodes[typeAndX >>> 14];
  if (type === undefined) throw invalid(`minutia ${index}: reserved minutia type 3`);
  if (reservedAndY >>> 14 !== 0) throw invalid(`minutia ${index}: reserved bits of y are set`);
  const xPx = typeAndX & coordinateMax;
  const yPx = reservedAndY & coordinateMax;
  if ((widthPx > 0 && xPx >= widthPx) || (heightPx > 0 && yPx >= heightPx)) {
    throw invalid(`minutia ${index}: position (${xPx}, ${yPx}) outside the ${widthPx} x ${heightPx} image`);
  }
  if (quality > qualityMax) throw invalid(`minutia ${index}: quality ${quality} above ${qualityMax}`);
  return { xPx, yPx, angleRad: (angleUnits * 2 * Math.PI) / angleUnitsPerTurn, type, quality };
}

/** Extended data is passed over, but its block structure must add up exactly. */
function skipExtendedData(reader: Reader, viewIndex: number): void {
  const length = reader.u16(`view ${viewIndex} extended data length`);
  reader.require(length, `view ${viewIndex} extended data`);
  let left = length;
  while (left > 0) {
    if (left < extendedBlockHeaderBytes) throw invalid(`view ${viewIndex}: extended data block header truncated`);
    reader.skip(2, `view ${viewIndex} extended data block type`);
    const blockLength = reader.u16(`view ${viewIndex} extended data block length`);
    if (blockLength < extendedBlockHeaderBytes || blockLength > left) {
      throw invalid(`view ${viewIndex}: extended data block length ${blockLength} does not fit ${left} bytes`);
    }
    reader.skip(blockLength - extendedBlockHeaderBytes, `view ${viewIndex} extended data block`);
    left -= blockLength;
  }
}

function readView(reader: Reader, viewIndex: number, widthPx: number, heightPx: number): FingerView {
  reader.require(viewHeaderBytes, `view ${viewIndex} header`);
  const fingerPosition = reader.u8('finger position');
  const viewAndImpression = reader.u8('view number');
  const quality = reader.u8('finger quality');
  const count = reader.u8('minutia count');
  const impressionType = viewAndImpression & 0x0f;
  if (fingerPosition > fingerPositionMax) throw invalid(`view ${viewIndex}: finger position ${fingerPosition} is not a single finger`);
  if (!impressionTypes.has(impressionType)) throw invalid(`view ${viewIndex}: unknown impression type ${impressionType}`);
  if (quality > qualityMax) throw invalid(`view ${viewIndex}: finger quality ${quality} above ${qualityMax}`);
  reader.require(count * minutiaBytes + extendedLengthBytes, `view ${viewIndex} minutiae`);
  const minutiae: Minutia[] = [];
  for (let index = 0; index < count; index++) minutiae.push(readMinutia(reader, index, widthPx, heightPx));
  skipExtendedData(reader, viewIndex);
  return { fingerPosition, viewNumber: viewAndImpression >>> 4, impressionType, quality, minutiae };
}

function checkDistinctViews(views: readonly FingerView[]): void {
  const seen = new Set<number>();
  views.forEach((view, index) => {
    const key = (view.fingerPosition << 4) | view.viewNumber;
    if (seen.has(key)) throw invalid(`view ${index}: duplicate finger ${view.fingerPosition} view ${view.viewNumber}`);
    seen.add(key);
  });
}

/** Parses a whole record or throws BiopayError(INVALID_TEMPLATE) with the reason. */
export function parseIsoRecord(bytes: Uint8Array): IsoRecord {
  checkHeader(bytes);
  const reader = new Reader(bytes);
  reader.skip(12, 'header');
  const captureEquipment = reader.u16('capture equipment');
  const widthPx = reader.u16('width');
  const heightPx = reader.u16('height');
  const xResolutionPpcm = reader.u16('x resolution');
  const yResolutionPpcm = reader.u16('y resolution');
  const viewCount = reader.u8('finger view count');
  reader.u8('reserved');
  if (viewCount === 0) throw invalid('record has no finger view');
  const views: FingerView[] = [];
  for (let viewIndex = 0; viewIndex < viewCount; viewIndex++) views.push(readView(reader, viewIndex, widthPx, heightPx));
  checkDistinctViews(views);
  if (reader.remaining !== 0) throw invalid(`${reader.remaining} bytes after the last finger view`);
  return { widthPx, heightPx, xResolutionPpcm, yResolutionPpcm, captureEquipment, views };
}

function checkInt(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(`${what} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

function angleUnits(angleRad: number, what: string): number {
  if (!Number.isFinite(angleRad)) throw invalid(`${what} angle must be finite`);
  const units = Math.round((angleRad * angleUnitsPerTurn) / (2 * Math.PI));
  return ((units % angleUnitsPerTurn) + angleUnitsPerTurn) % angleUnitsPerTurn;
}

function writeMinutia(view: DataView, offset: number, minutia: Minutia, record: IsoRecord, what: string): void {
  const type = typeValues[minutia.type];
  if (type === undefined) throw invalid(`${what}: unknown minutia type`);
  const xMax = record.widthPx > 0 ? record.widthPx - 1 : coordinateMax;
  const yMax = record.heightPx > 0 ? record.heightPx - 1 : coordinateMax;
  view.setUint16(offset, (type << 14) | checkInt(minutia.xPx, 0, Math.min(xMax, coordinateMax), `${what} x`));
  view.setUint16(offset + 2, checkInt(minutia.yPx, 0, Math.min(yMax, coordinateMax), `${what} y`));
  view.setUint8(offset + 4, angleUnits(minutia.angleRad, what));
  view.setUint8(offset + 5, checkInt(minutia.quality, 0, qualityMax, `${what} quality`));
}

function checkViewHeader(view: FingerView, index: number): void {
  checkInt(view.fingerPosition, 0, fingerPositionMax, `view ${index} finger position`);
  checkInt(view.viewNumber, 0, viewNumberMax, `view ${index} view number`);
  if (!impressionTypes.has(view.impressionType)) throw invalid(`view ${index}: unknown impression type ${view.impressionType}`);
  checkInt(view.quality, 0, qualityMax, `view ${index} quality`);
  checkInt(view.minutiae.length, 0, minutiaCountMax, `view ${index} minutia count`);
}

/** Serialises a record (no extended data); refuses values the format cannot carry. */
export function writeIsoRecord(record: IsoRecord): Uint8Array {
  checkInt(record.views.length, 1, viewCountMax, 'finger view count');
  record.views.forEach(checkViewHeader);
  checkDistinctViews(record.views);
  const length = record.views.reduce((sum, view) => sum + viewHeaderBytes + view.minutiae.length * minutiaBytes + extendedLengthBytes, headerBytes);
  const bytes = new Uint8Array(length);
  const data = new DataView(bytes.buffer);
  bytes.set(magic, 0);
  bytes.set(version2005, 4);
  data.setUint32(8, length);
  data.setUint16(12, checkInt(record.captureEquipment, 0, 0xffff, 'capture equipment'));
  data.setUint16(14, checkInt(record.widthPx, 0, 0xffff, 'width'));
  data.setUint16(16, checkInt(record.heightPx, 0, 0xffff, 'height'));
  data.setUint16(18, checkInt(record.xResolutionPpcm, 0, 0xffff, 'x resolution'));
  data.setUint16(20, checkInt(record.yResolutionPpcm, 0, 0xffff, 'y resolution'));
  data.setUint8(22, record.views.length);
  let offset = headerBytes;
  record.views.forEach((view, viewIndex) => {
    data.setUint8(offset, view.fingerPosition);
    data.setUint8(offset + 1, (view.viewNumber << 4) | view.impressionType);
    data.setUint8(offset + 2, view.quality);
    data.setUint8(offset + 3, view.minutiae.length);
    offset += viewHeaderBytes;
    view.minutiae.forEach((minutia, index) => {
      writeMinutia(data, offset, minutia, record, `view ${viewIndex} minutia ${index}`);
      offset += minutiaBytes;
    });
    data.setUint16(offset, 0);
    offset += extendedLengthBytes;
  });
  return bytes;
}
