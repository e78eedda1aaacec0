/**
 * Sets `key` to `value` as the newest entry of `map` (a Map keeps insertion
 * order), then drops the oldest entry when `map` holds more than `maxEntries`:
 * memory stays bounded under many keys, and the entries used least recently
 * go first.
 */
export function setNewest<K, V>(map: Map<K, V>, key: K, value: V, maxEntries: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > maxEntries) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
}
