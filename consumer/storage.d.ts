// The DOM's `Storage`, which @effect/platform 0.97's KeyValueStore.d.ts names for `layerStorage`.
// Only the nodenext run, which also checks every module, includes it (see check.mjs); the bundler
// run checks program.ts without it.
interface Storage {
  readonly length: number
  clear(): void
  getItem(key: string): string | null
  key(index: number): string | null
  removeItem(key: string): void
  setItem(key: string, value: string): void
}
