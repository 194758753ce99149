/**
 * `f` remembering its last argument and result: for what a call derives from a value that rarely
 * changes (the header names spans redact, the fiber's context), computed again only when it does.
 *
 * @internal
 */
export const lastOf = <A, B>(f: (a: A) => B): (a: A) => B => {
  let seen = false
  let input: A
  let output: B
  return (a) => {
    if (!seen || a !== input) {
      output = f(input = a)
      seen = true
    }
    return output
  }
}

/**
 * Extending a list of names (the header names spans redact) without building a new list on
 * every call: the names in effect rarely change, so the extended list is kept for the list seen
 * last.
 *
 * @internal
 */
export const extendWith = <N>(extra: ReadonlyArray<N>): (names: ReadonlyArray<N>) => ReadonlyArray<N> =>
  lastOf((names) => [...names, ...extra])
