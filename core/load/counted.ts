/** "1 merchant", "10 merchants": a count and its noun, for the load tool's progress and summary lines. */
export function counted(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
