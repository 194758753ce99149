/**
 * The errors of Cal.com's OAuth flow: one per documented status of each operation, each carrying
 * the decoded Cal.com error envelope (`{ status: "error", timestamp, path, error: { code,
 * message, details } }`).
 *
 * Cal.com's `details` is NestJS's raw exception response; for a body-validation failure it holds
 * class-validator objects whose `target` and `value` echo the request body, refresh token and
 * client secret included. The `Endpoint` pipeline scrubs every secret the request carried from
 * every string of these errors (`code`, `message`, `details`, `path`, `timestamp` alike).
 *
 * @since 0.1.0
 */
export * as CalError from "./CalError.js"

/**
 * Cal.com API v2's platform OAuth flow as a service: `authorize` a logged-in user for an OAuth
 * client, `exchange` the code for a managed user's tokens, and `refresh` them.
 *
 * What the real server does, which its API document does not say: `authorize` answers with a 302
 * redirect whose `Location` carries the code; token responses are wrapped in a `{ status, data }`
 * envelope with the access token's expiry in epoch milliseconds; errors are wrapped in
 * `{ status: "error", timestamp, path, error }`; and refresh tokens rotate (the presented one is
 * deleted). Codes and refresh tokens are therefore single-use: no operation here is ever re-sent
 * once it may have reached the server.
 *
 * @since 0.1.0
 */
export * as CalOAuth from "./CalOAuth.js"

/**
 * A self-refreshing session for one Cal.com managed user, and an `HttpClient` for the rest of
 * Cal.com's API that authenticates with it.
 *
 * The session starts from a refresh token (such as `CAL_REFRESH_TOKEN`) or from an authorization
 * code, which it exchanges once, as its first login. Cal.com rotates refresh tokens: each refresh
 * deletes the token it presented, so the session writes every new refresh token to the
 * `TokenStore` before handing out the new access token, and a session rebuilt over the same store
 * resumes from the newest token instead of the (dead) one it was configured with. When a refresh
 * token is rejected and no other instance left a newer one in the store, the session has nothing
 * left to log in with and fails with `ReauthenticationRequired`: the user must authorize again.
 *
 * The authenticated client adds `Authorization: Bearer`, and treats both 401 and Cal.com's 498
 * (`ACCESS_TOKEN_IS_EXPIRED`) as "this token is stale": it refreshes once and retries once.
 *
 * @since 0.1.0
 */
export * as CalSession from "./CalSession.js"
