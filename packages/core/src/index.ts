/**
 * The errors every provider operation can fail with besides its own documented statuses. None of
 * them carries a secret: they hold the operation name, numbers and text this library wrote or
 * scrubbed, never a request body or a raw transport error.
 *
 * @since 0.1.0
 */
export * as AuthError from "./AuthError.js"

/**
 * A self-refreshing token for one identity, shared by every fiber that needs it.
 *
 * Built from a `login` effect, an optional `refresh` effect and an optional `revoke` effect, a
 * session keeps a valid `TokenSet` for as long as its scope lives:
 *
 * - single-flight: concurrent callers share one in-flight request; a failure reaches the callers
 *   waiting on it and is not cached; an interrupted caller does not cancel the shared request;
 * - proactive refresh: a fiber scoped to the session sleeps until `expiresAt - skew - jitter` and
 *   refreshes; a failed proactive refresh is retried on a schedule and never ends the loop;
 * - rotation: a new refresh token is written to the `TokenStore` before the new access token is
 *   handed out; a refresh response without one keeps the old one; a single-use refresh token
 *   that was rejected, or whose answer was lost after it may have reached the server, is never
 *   presented again: the session re-reads the store and adopts a token another instance
 *   rotated, else logs in again when it can, else fails with `ReauthenticationRequired`;
 * - coordination: sessions sharing a store hold its refresh lease while they refresh, so one
 *   refreshes and the others adopt its result; a store that notifies lets them re-arm at once;
 * - bounded: logins and refreshes are rate-limited per session, and after repeated failures
 *   callers get the last failure for a backoff window instead of sending another request;
 * - observable: `changes(session)` streams `Valid`, `Refreshing`, `Failed`, `Unpersisted`,
 *   `ReauthenticationRequired` and `Closed`; every login, refresh and revoke runs in a span,
 *   labelled with a digest of the session key rather than the key itself, and is reported to the
 *   `Observer` in context (`SessionMetrics.layer` counts them in metrics). Neither costs an
 *   application that does not use it: the stream and the metrics are not part of `make`.
 *
 * @since 0.1.0
 */
export * as AuthSession from "./AuthSession.js"

/**
 * The one HTTP pipeline every provider endpoint goes through.
 *
 * A provider describes an endpoint as data: its operation name, whether its grant may be
 * replayed, the request, and a table from each documented status to a handler that decodes the
 * success or builds the typed error. The pipeline adds the rest: the base URL, `Accept: JSON`,
 * a timeout per attempt, a cap on the response size, no redirect following, grant-aware retry
 * (see `RetryPolicy`), and the three shared errors. The error type of `execute` is exactly the
 * table's errors plus `TransportError | UnexpectedStatus | MalformedResponse`.
 *
 * @since 0.1.0
 */
export * as Endpoint from "./Endpoint.js"

/**
 * Configuration that explains itself: the `Config` pieces every provider's `layerConfig` reads
 * its variables with, so that a wrong or partial configuration fails when the layer is built,
 * with a `ConfigError` that names the variable and says what is wrong with it.
 *
 * - `baseUrl`: a base URL variable, checked as `Endpoint.validateBaseUrl` checks one given in
 *   code, with the variable's name as the error's path (`Invalid data at OCCAM_BASE_URL: ...`).
 * - `secret`: a secret variable, `Redacted`; unlike `Config.redacted`, a missing one says which
 *   variable is missing rather than `"<redacted>"` (a missing value has nothing to hide).
 * - `choose` and `credentials`: credentials from one of several complete sets of variables
 *   (such as an API key, or a username and a password). Some variables of a set without the
 *   rest is a `MissingData` naming what is set and what is missing, so a typo in one variable
 *   never sends the others anywhere.
 * - `requireCredentials`: the same promise for options given in code, from plain JavaScript
 *   too: a session built without credentials fails with a `ConfigError` rather than a `TypeError`.
 *
 * @since 0.1.0
 */
export * as ProviderConfig from "./ProviderConfig.js"

/**
 * Grant-aware retry, written as a `Schedule`.
 *
 * What may be re-sent depends on what a request spends. A password or API-key login can be sent
 * again at no cost; an authorization code or a rotating refresh token is spent the moment the
 * server processes it, so re-sending it after a lost response only earns an `invalid_grant` (and
 * with reuse detection, a revoked token family). The rules:
 *
 * - 429 and 503 are retried for every operation: the server says it did not process the request.
 *   `Retry-After` (delta-seconds or HTTP-date) is honoured, clamped to `maxRetryAfter`.
 * - A connection that was never established is retried for every operation: nothing was sent.
 * - 408, 500, 502, 504, a reset connection and a timeout are retried only for `replayable`
 *   operations: the server may have processed the request.
 * - Every other status is an answer and is never retried.
 * - Backoff is exponential with jitter, bounded by `maxAttempts` and by `maxElapsed`; a wait that
 *   would end past `maxElapsed` is not started.
 *
 * @since 0.1.0
 */
export * as RetryPolicy from "./RetryPolicy.js"

/**
 * The one place that keeps secrets out of what a server wrote. A server that echoes the request
 * (a validation message quoting a field, a proxy's error page, a redirect carrying a code) must
 * not carry a secret into an error, a log line or a span, whatever spelling the echo uses.
 *
 * A `Scrubber` knows every spelling a secret travels in: raw; percent-encoded as
 * `encodeURIComponent` and `encodeURI` write it, and as an `application/x-www-form-urlencoded`
 * body writes it (space as `+`, `*` kept, `~` encoded), with upper- or lower-case hex;
 * JSON-escaped, also with `\/` and with non-ASCII as `\uXXXX` (Python's `ensure_ascii`, PHP's
 * default); and HTML-escaped. It also blanks the value of any URL or form parameter whose name
 * says it is a credential (`code=`, `access_token=`, `client_secret=`, ...), so a redirect's code
 * is scrubbed though nobody listed it.
 *
 * `Endpoint` builds one per request (`fromRequest`: the secrets the definition lists plus those
 * the request itself carries in sensitive headers, query parameters and body fields) and passes
 * every error response and every typed error through it; providers never call it themselves.
 *
 * @since 0.1.0
 */
export * as Scrubber from "./Scrubber.js"

/**
 * Authenticated `HttpClient`s: the user's own calls to a provider's API, with the session's
 * access token attached and a token the server rejected replaced once, and the shape every
 * provider session shares (`Authenticated`), for code that serves several providers.
 *
 * @since 0.1.0
 */
export * as SessionClient from "./SessionClient.js"

/**
 * Metrics of every session: logins, refreshes, failures, store writes that failed and callers
 * that joined a request in flight, each tagged with the session's `provider`.
 *
 * Sessions count nothing by themselves: provide `layer` where they are built to turn the
 * counters on. An application that never imports this module ships none of it.
 *
 * ```ts
 * OccamSession.layer({ credentials }).pipe(Layer.provide(SessionMetrics.layer))
 * ```
 *
 * @since 0.2.0
 */
export * as SessionMetrics from "./SessionMetrics.js"

/**
 * The normalised token every provider returns: whatever the wire format (absolute seconds,
 * epoch milliseconds, `expires_in`, a JWT `exp` claim), a `TokenSet` holds the secrets as
 * `Redacted` values and the expiry as epoch milliseconds.
 *
 * @since 0.1.0
 */
export * as TokenSet from "./TokenSet.js"

/**
 * Where sessions keep their tokens, keyed by session key, so that a rotated refresh token
 * survives a restart and instances sharing a store converge on one token family.
 *
 * Every write is a compare-and-set on a version number: a session writes "version n + 1, given
 * that the entry is still at version n", and learns from a `VersionConflict` that another
 * instance wrote first. The version is the fencing token of the refresh lease: a session holds
 * `lease(key)` while it refreshes, so sessions sharing the store wait for it and adopt what it
 * wrote instead of spending the same refresh token twice; a holder whose lease lapsed still
 * cannot overwrite a newer entry, because its write names an older version.
 *
 * `layerMemory` is the default; `layerKeyValueStore` persists through `@effect/platform`'s
 * `KeyValueStore` (for example `KeyValueStore.layerFileSystem(directory)`). Both lease within
 * one process; `@effect-auth/redis` leases and notifies across processes.
 *
 * @since 0.1.0
 */
export * as TokenStore from "./TokenStore.js"
