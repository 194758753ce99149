/**
 * A `TokenStore` on Redis, for many processes acting as one identity: replicas, workers and
 * cron jobs that share one Occam account, Cal.com managed user or EnduroSat operator.
 *
 * - Compare-and-set: every write is one Lua script that compares the entry's version and
 *   writes the new value, version and TTL together, then publishes the change. The version is
 *   the fencing token of the refresh lease: a writer whose lease lapsed names an older version
 *   and gets `VersionConflict`. Versions strictly increase and never repeat, not after a
 *   `remove`, an expiry, nor a Redis that lost its data (see `make`).
 * - Refresh lease across processes: `SET NX PX` with an owner id, renewed while held, released
 *   (and waiters woken) only by its owner. A holder that dies is replaced when its TTL ends.
 * - Change notification: a write publishes its version on the key's channel; every other
 *   process reads the entry and hands it to its session, which adopts it and re-arms its
 *   proactive refresh instead of refreshing again.
 * - Encryption at rest: AES-256-GCM (WebCrypto) with a key from `EFFECT_AUTH_REDIS_KEY`, a
 *   fresh IV per write and the Redis key and version as authenticated data. Opting out
 *   (`encryption: "none"`) stores the Schema-encoded token set in clear text.
 * - Redis down or slow: every call has a timeout and fails with a `TokenStoreError` that
 *   carries no value; the session keeps serving the token it holds and writes a rotated one
 *   when Redis answers again.
 *
 * @since 0.1.0
 */
export * as RedisTokenStore from "./RedisTokenStore.js"
