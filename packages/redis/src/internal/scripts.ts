/**
 * The Lua scripts of the store. Each runs atomically on the Redis server, which is what makes
 * the compare-and-set and the owner checks of the lease real: no other command runs between the
 * read and the write, whichever process sent it.
 *
 * Keys of one session key share a hash tag (`{...}`), so the scripts stay valid on a Redis
 * Cluster, where every key a script touches must live in one slot.
 */

/**
 * Compare-and-set.
 *
 * KEYS: the entry hash (`v` version, `d` value), the version counter (the highest version ever
 * given to this key; it outlives the entry so versions never repeat).
 * ARGV: the expected version (`""`: no entry), the proposed version, the value, the TTL in
 * milliseconds (`"0"`: none), the change channel.
 *
 * Returns `{0, actual}` on a version mismatch (`actual` is `""` when there is no entry),
 * `{1, counter}` when the proposed version is not above the counter (the caller proposes again
 * above it; the value is sealed with its version, so the script cannot pick one), and
 * `{2, version}` once written and published.
 */
export const set = `
local current = redis.call("HGET", KEYS[1], "v")
if ARGV[1] == "" then
  if current then return {0, current} end
elseif current ~= ARGV[1] then
  return {0, current or ""}
end
local counter = tonumber(redis.call("GET", KEYS[2]) or "0")
if tonumber(ARGV[2]) <= counter then return {1, string.format("%d", counter)} end
redis.call("HSET", KEYS[1], "v", ARGV[2], "d", ARGV[3])
if ARGV[4] == "0" then redis.call("PERSIST", KEYS[1]) else redis.call("PEXPIRE", KEYS[1], ARGV[4]) end
redis.call("SET", KEYS[2], ARGV[2])
redis.call("PUBLISH", ARGV[5], "v:" .. ARGV[2])
return {2, ARGV[2]}
`

/**
 * Remove: deletes the entry and moves the counter past its version, so the next write (and any
 * writer still holding the removed version) cannot reuse it.
 *
 * KEYS: the entry hash, the version counter. ARGV: a proposed version (the caller's clock), the
 * change channel. Returns 1 when an entry was removed, 0 when there was none.
 */
export const remove = `
local current = redis.call("HGET", KEYS[1], "v")
if not current then return 0 end
local counter = tonumber(redis.call("GET", KEYS[2]) or "0")
local version = math.max(tonumber(ARGV[1]), counter + 1, tonumber(current) + 1)
redis.call("DEL", KEYS[1])
redis.call("SET", KEYS[2], string.format("%d", version))
redis.call("PUBLISH", ARGV[2], "r:" .. string.format("%d", version))
return 1
`

/**
 * Acquire a lease: takes it when free, and answers yes when the caller already holds it (an
 * earlier attempt that timed out on the way back may have taken it), extending its TTL.
 *
 * KEYS: the lease. ARGV: the owner id, the TTL in milliseconds. Returns 1 when the caller holds
 * the lease, 0 when someone else does.
 */
export const acquire = `
local holder = redis.call("GET", KEYS[1])
if holder == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
`

/**
 * Renew a lease: extends its TTL only while the caller still owns it.
 *
 * KEYS: the lease. ARGV: the owner id, the TTL in milliseconds. Returns 1 when renewed, 0 when
 * the lease lapsed or belongs to someone else.
 */
export const renew = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0
`

/**
 * Release a lease: deletes it only when the caller still owns it (a holder whose lease lapsed
 * must not release its successor's), and tells waiters on the change channel.
 *
 * KEYS: the lease. ARGV: the owner id, the change channel. Returns 1 when released, else 0.
 */
export const release = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
  redis.call("PUBLISH", ARGV[2], "released")
  return 1
end
return 0
`

/** The SHA-1 of a script, as `EVALSHA` names it (computed with WebCrypto). */
export const sha1 = async (script: string): Promise<string> => {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-1", new TextEncoder().encode(script)))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("")
}
