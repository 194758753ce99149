/**
 * The Occam AI token API (`/auth/...`) as an Effect service: a password login, a rotating refresh
 * and an API-key exchange, each with a typed error for every documented status.
 *
 * The three endpoints encode their requests three ways: `login` posts an OAuth2 password form,
 * `refresh` posts JSON, and `tokenFromKey` sends the key as a query parameter of a GET. Expiry
 * times arrive as absolute timestamps whose unit Occam does not document; they are read as
 * seconds unless only milliseconds make sense (see `TokenSet.fromExpiresAt`).
 *
 * @since 0.1.0
 */
export * as OccamAuth from "./OccamAuth.js"

/**
 * The errors of Occam AI's documented statuses, one class per status of each endpoint.
 *
 * Occam is a FastAPI server. Its 400 and 404 bodies are untyped in the OpenAPI document (FastAPI's
 * `HTTPException` sends `{"detail": "<message>"}`), so those errors take the status as the
 * authority and carry `detail` only when the body has that shape: a 400 from a proxy with an HTML
 * body is still `InvalidCredentials`, with no `detail`. A 422 is typed (`HTTPValidationError`) and
 * its `detail` list is decoded strictly: a 422 that does not have it is a `MalformedResponse`.
 *
 * @since 0.1.0
 */
export * as OccamError from "./OccamError.js"

/**
 * A self-refreshing Occam AI session and an authenticated `HttpClient` for Occam's other
 * endpoints, from either a username and password or an API key.
 *
 * - Password: `login`, then `refresh` before each expiry. Occam rotates refresh tokens, so every
 *   refresh presents the token the previous one returned and no token is ever presented twice;
 *   when the refresh token is dead (`RefreshTokenExpired`, `RefreshTokenNotFound`) the session
 *   logs in again.
 * - API key: `tokenFromKey`, and the key exchanged again before each expiry (there is no refresh
 *   token on this path).
 *
 * The session's error type is exact for its credentials: a password session never fails with
 * `InvalidApiKey`, nor with `RefreshTokenExpired` or `RefreshTokenNotFound` (it logs in again
 * instead); an API-key session never fails with `InvalidCredentials`. Hence three tags: every
 * layer provides `OccamSession` (either kind: what `layerConfig` builds, since the
 * configuration picks the kind), and `layer` also provides `OccamPasswordSession` or
 * `OccamApiKeySession`, whose error types are exact for one kind.
 *
 * The client resolves relative URLs against the base URL (absolute ones must stay on its origin),
 * adds `Authorization: Bearer`, and on a 401 invalidates the
 * token it sent and retries once with a new one. Occam answers `{"detail":"Token expired"}` for an
 * expired token and another detail for an unknown one; a new token is the remedy for both, so every
 * 401 counts, which is `SessionClient`'s default.
 *
 * @since 0.1.0
 */
export * as OccamSession from "./OccamSession.js"
