/**
 * Extending a list of names (the header names spans redact) without building a new list on
 * every call: the names in effect rarely change, so the extended list is kept for the list seen
 * last.
 *
 * @internal
 */
export const extendWith = <N>(extra: ReadonlyArray<N>) => {
  let namesIn: ReadonlyArray<N> | undefined
  let namesOut: ReadonlyArray<N> = extra
  return (names: ReadonlyArray<N>): ReadonlyArray<N> =>
    names === namesIn ? namesOut : (namesOut = [...(namesIn = names), ...extra])
}
