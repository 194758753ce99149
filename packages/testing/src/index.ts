/**
 * Type tests for error channels: `exactly<E>()(effect)` compiles only when the effect's error
 * type is exactly `E`, no wider (a tag callers would handle in vain) and no narrower (a tag they
 * would miss). It does nothing at run time and never runs the effect.
 *
 * ```ts
 * ErrorTypes.exactly<InvalidCredentials | ValidationError | AuthError.AuthError | SessionClosed>()(session.token)
 * ```
 *
 * @since 0.1.0
 */
export * as ErrorTypes from "./ErrorTypes.js"

/**
 * A fake of Cal.com API v2's platform OAuth flow that behaves as the real server does (see
 * PROVIDERS.md section 3), not as its API document says:
 *
 * - `POST /v2/oauth/:clientId/authorize` needs a logged-in user's NextAuth session cookie and
 *   answers **302** with `Location: <redirectUri>?code=<code>`; a user holds at most one
 *   unexchanged code per client (a second authorize is "already authorized", 400);
 * - `POST /v2/oauth/:clientId/exchange` takes the code as `Authorization: Bearer`, spends it, and
 *   answers 200 with tokens in the `{ status: "success", data }` envelope;
 * - `POST /v2/oauth/:clientId/refresh` checks `x-cal-secret-key` in a guard (401), then rotates:
 *   the presented refresh token is deleted, so presenting it again is 400 `Invalid refresh token`;
 * - access tokens live 60 minutes (expiry rounded down to the minute), refresh tokens a year
 *   (rounded down to the day); a protected route, `GET /v2/me`, answers 498
 *   `ACCESS_TOKEN_IS_EXPIRED` for an expired access token and 401 for an unknown one;
 * - every error is Cal.com's envelope `{ status: "error", timestamp, path, error: { code,
 *   message, details } }` with the server's exact messages.
 *
 * Time comes from Effect's `Clock` (so `TestClock` drives expiry) and tokens from a counter plus
 * Effect's `Random`. The fault queue and request log are the kit's (`FakeServer`).
 *
 * @since 0.1.0
 */
export * as FakeCal from "./FakeCal.js"

/**
 * A fake of EnduroSat's ground-station authentication API, which fronts AWS Cognito, with the
 * behaviour PROVIDERS.md (section 4) describes:
 *
 * - `POST /oauth2/token`, form-encoded, `client_id` plus `grant_type=password` (`username`,
 *   `password`) or `grant_type=refresh_token` (`refresh_token`). A password grant yields access,
 *   id and refresh tokens; a refresh grant yields access and id tokens but no refresh token:
 *   Cognito does not rotate, the original stays valid until its own expiry.
 * - `POST /oauth2/revoke`, form-encoded, `client_id` and `token`: revokes a refresh token and
 *   every access token issued from it; 204 even for a token it does not know.
 * - `GET /satellite-passes`, a protected route that wants `Authorization: Bearer <access token>`
 *   and answers 401 once that token has expired or was revoked.
 * - 401 bodies are Cognito's `{ "error": "..." }`; malformed requests get an untyped 400 body
 *   shaped like Spring Boot's (`timestamp`, `status`, `error`, `message`, `path`); a body that is
 *   not form-encoded gets 415.
 *
 * Token lifetimes default to Cognito's: 3600 seconds for access and id tokens, 30 days for
 * refresh tokens. Time comes from Effect's `Clock`, so `TestClock` drives expiry.
 *
 * @since 0.1.0
 */
export * as FakeEnduroSat from "./FakeEnduroSat.js"

/**
 * A fake IX-API v2 auth server: `POST /auth/token` and `POST /auth/refresh` answer 201 with real
 * HS256 JWTs (signed with a key of the fake's own, carrying `iss`, `sub`, `iat`, `exp`, `jti`),
 * errors are RFC 7807 problems with the documented `type` URIs, refresh tokens expire and are
 * single-use, and a protected `GET /accounts` answers 401 once the access token has expired.
 *
 * Times come from Effect's `Clock` and the signing is synchronous, so in memory the whole
 * exchange runs on the calling fiber and `TestClock` drives every expiry.
 *
 * @since 0.1.0
 */
export * as FakeIxApi from "./FakeIxApi.js"

/**
 * A fake Occam AI token API: the FastAPI server `PROVIDERS.md` describes, as an `HttpApp` with the
 * kit's fault queue and request log.
 *
 * - `POST /auth/access-token` (OAuth2 password form) answers an access and refresh token pair,
 *   400 `{"detail":"Invalid email or password"}`, or a FastAPI 422 for missing fields or a
 *   `grant_type` other than `password`;
 * - `GET /auth/access-token?key=` answers an access token alone, 400 for an unknown key, or 422;
 * - `POST /auth/refresh-token` (JSON) rotates: each refresh token works once; a used or expired one
 *   gets 400 `{"detail":"Refresh token expired or is already used"}`, an unknown one 404
 *   `{"detail":"Refresh token does not exist"}`;
 * - `GET /me` stands for every protected endpoint: 401 `{"detail":"Token expired"}` once the access
 *   token has expired, 401 for an unknown token or none.
 *
 * Time comes from Effect's `Clock` (so `TestClock` expires tokens) and token randomness from
 * Effect's `Random`. `expires_at` is sent in seconds, as a FastAPI server most likely does, or in
 * milliseconds when asked.
 *
 * @since 0.1.0
 */
export * as FakeOccam from "./FakeOccam.js"

/**
 * The kit every fake provider is built with. A fake is an `HttpApp`; `FakeServer.make` adds a
 * queue of injected faults and a log of the requests received, and serves it in memory as an
 * `HttpClient` (no sockets: the whole exchange runs on the calling fiber, so `TestClock` drives
 * every delay). `NodeFakeServer.serve` puts the same server on a localhost port.
 *
 * Every response carries a `Date` header read from the fake's clock, which is Effect's `Clock`
 * moved by `setClockOffset`: a fake can play a server whose clock is minutes off the client's,
 * with the token times it writes and the `Date` it sends agreeing, as a real server's do.
 *
 * @since 0.1.0
 */
export * as FakeServer from "./FakeServer.js"

/**
 * Faults a fake provider can be told to inject into the next matching request: the failures a
 * real token endpoint produces on a bad day.
 *
 * @since 0.1.0
 */
export * as Fault from "./Fault.js"

/**
 * Serves a fake on a real localhost port, for examples, benchmarks and wire-format tests. The
 * fault queue and request log are the same as in memory; a dropped connection destroys the
 * socket, so the client sees a real reset.
 *
 * @since 0.1.0
 */
export * as NodeFakeServer from "./NodeFakeServer.js"

/**
 * A throwaway Redis for tests, soaks and examples of `@effect-auth/redis`: `redis-server` (from
 * the `PATH`, such as Debian's `redis-server` package) started on a free localhost port with a
 * temporary directory and no persistence, killed when the scope closes. It can be stopped and
 * started again on the same port, to test what happens while Redis is away.
 *
 * @since 0.1.0
 */
export * as NodeRedisServer from "./NodeRedisServer.js"

/**
 * Records the spans an effect creates, for tests that assert what tracing would export: every
 * span keeps its name, attributes and final status, as the native tracer holds them.
 *
 * @since 0.1.0
 */
export * as SpanRecorder from "./SpanRecorder.js"
