/**
 * The IX-API v2 auth endpoints as a service: create a token pair from an API key and secret, and
 * exchange a refresh token for a new pair. Every IX-API is hosted by its internet exchange, so
 * there is no default host: the base URL (`https://<ixp-host>/api/v2`) is required.
 *
 * Neither response says when its tokens expire: both tokens are JWTs and their `exp` claims are
 * the expiry (decoded, not verified). A token that is not a JWT, or has no `exp`, is accepted
 * with no expiry: a session then renews it only when the server answers 401.
 *
 * @since 0.1.0
 */
export * as IxApiAuth from "./IxApiAuth.js"

/**
 * The documented errors of IX-API's `/auth/token` and `/auth/refresh`: RFC 7807 problem bodies,
 * a 400 `ValidationError` and a 401 `AuthenticationError`, each carrying the decoded problem.
 *
 * @since 0.1.0
 */
export * as IxApiError from "./IxApiError.js"

/**
 * A self-refreshing IX-API session from an API key and secret, and an authenticated
 * `HttpClient` for the rest of IX-API.
 *
 * The session creates a token pair (`createToken`), refreshes it before the access token's JWT
 * `exp` (`refreshToken`, presenting each rotated refresh token once), and creates a new pair
 * from the key and secret when the refresh token is refused (`signature-expired` once it has
 * expired). Tokens without a readable expiry are renewed when the server answers 401.
 *
 * The session's error type is exact: `createToken`'s errors (a rejected refresh is answered by
 * creating a new pair, so the refresh adds none of its own).
 *
 * The client resolves relative URLs against the base URL (absolute ones must stay on its origin),
 * adds `Authorization: Bearer`, and on a 401 invalidates the
 * token it sent and retries once with a new one.
 *
 * @since 0.1.0
 */
export * as IxApiSession from "./IxApiSession.js"
