/**
 * EnduroSat's ground-station authentication API, a thin proxy over AWS Cognito: a public app
 * client (an id, no secret) logs a user in with a password grant, renews the access token with a
 * refresh grant that does not rotate the refresh token, and revokes a refresh token.
 *
 * @since 0.1.0
 */
export * as EnduroSatAuth from "./EnduroSatAuth.js"

/**
 * The errors of EnduroSat's documented statuses. Both carry what the server said (the untyped 400
 * body, the 401 `error` text) and never a secret of the request: a 400 body that echoes the
 * password or a token has it replaced by `<redacted>` before the error is built.
 *
 * @since 0.1.0
 */
export * as EnduroSatError from "./EnduroSatError.js"

/**
 * A self-refreshing EnduroSat session for one user, and an `HttpClient` for the rest of the
 * ground-station API that carries its access token.
 *
 * Cognito shapes the lifecycle: the password grant yields a refresh token whose lifetime the
 * response does not state (30 days unless the app client says otherwise, hence
 * `refreshTokenLifetime`), and the refresh grant does not rotate it. So the session logs in,
 * refreshes the access token with the same refresh token until that one expires (or the server
 * refuses it), then logs in again with the password.
 *
 * The session's error type is exact: the password grant's errors (a refused refresh token is
 * answered by logging in again, and the refresh grant fails with nothing the password grant
 * cannot); `logout` fails with `revoke`'s.
 *
 * @since 0.1.0
 */
export * as EnduroSatSession from "./EnduroSatSession.js"
