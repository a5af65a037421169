/** Memo maps with a size limit: when full, the oldest insertion is forgotten (Map keeps order). */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, sizeMax: number): V {
  map.delete(key);
  if (map.size >= sizeMax) map.delete(map.keys().next().value as K);
  map.set(key, value);
  return value;
}
