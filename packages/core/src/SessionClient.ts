/**
 * Authenticated `HttpClient`s: the user's own calls to a provider's API, with the session's
 * access token attached and a token the server rejected replaced once, and the shape every
 * provider session shares (`Authenticated`), for code that serves several providers.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as AuthSession from "./AuthSession.js"
import { lastOf } from "./internal/names.js"
import * as Scrubber from "./Scrubber.js"

/**
 * A request for an absolute URL on another origin than the provider's, refused before it was
 * sent (so before the session's bearer token was attached): a pagination link or a redirect
 * target taken from a response must not carry the token to another host. It names the two
 * origins (scheme, host and port) and nothing of the path or query.
 *
 * @since 0.1.0
 * @category errors
 */
export class ForeignOrigin extends Schema.TaggedError<ForeignOrigin>("@effect-auth/core/ForeignOrigin")(
  "ForeignOrigin",
  {
    /** The origin of the provider's base URL, the only one the client sends to. */
    expected: Schema.String,
    /** The origin of the refused request (`"null"` for a URL without one, such as `mailto:`). */
    requested: Schema.String
  }
) {
  override get message(): string {
    return `token not sent to ${this.requested}: the client sends only to ${this.expected}`
  }
}

/**
 * What every provider session offers (each provider's `Service` is one): the session and an
 * `HttpClient` for the provider's API that authenticates with it. Code that serves several
 * providers takes this instead of a provider's service:
 *
 * ```ts
 * const me = <E>(authenticated: SessionClient.Authenticated<E>) => authenticated.client.get("/me")
 * me(yield* OccamSession.OccamSession)
 * ```
 *
 * `E` is what obtaining a token can fail with and `EV` what revoking can (see
 * `AuthSession.AuthSession`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Authenticated<E, EV = never> {
  readonly session: AuthSession.AuthSession<E, EV>
  /**
   * The `HttpClient` the session was built over, bound to the provider's base URL: a relative
   * URL (`client.get("/agents")`) is resolved against it, an absolute URL on the provider's
   * origin (a pagination link) is sent as it is, and any other origin fails with
   * `ForeignOrigin` without a request. Every request carries the session's bearer token.
   */
  readonly client: HttpClient.HttpClient.With<ClientError<E>>
}

/**
 * What an authenticated client (`make`) can fail with, for a session failing with `E`.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientError<E> = HttpClientError.HttpClientError | E | AuthSession.SessionClosed | ForeignOrigin

/**
 * Options of `withSession`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Whether a response says the access token is no longer accepted, besides a 401 (which always
   * does); for example Cal.com's 498.
   */
  readonly isExpired?: ((response: HttpClientResponse.HttpClientResponse) => boolean) | undefined
}

/**
 * Reads a rejected body to its end so its connection goes back to the pool, but no more than
 * 64 KiB for no longer than a second: a 401 that drips forever must not hang the caller. A body
 * abandoned this way closes its connection instead.
 */
const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.stream.pipe(
    Stream.runFoldWhile(0, (read) => read <= 65536, (read, chunk) => read + chunk.length),
    Effect.timeout(1000),
    Effect.ignore
  )

/**
 * Sends every request with `Authorization: Bearer <access token>` from `session`, read afresh
 * for each attempt. When the response is a 401 (or `isExpired` says so), the session is told
 * that exactly the token this request carried is dead, and the request is sent once more with
 * the session's next token. A second rejection is returned as it came, as a response: the
 * client's own status handling (such as `HttpClient.filterStatusOk`) decides what it means.
 *
 * The session's errors join the client's error type. A request whose body is a one-shot stream
 * cannot be sent twice: give such requests a body that can be replayed.
 *
 * @since 0.1.0
 * @category middleware
 */
export const withSession: {
  <E>(
    session: AuthSession.AuthSession<E, unknown>,
    options?: Options
  ): <E2, R>(
    client: HttpClient.HttpClient.With<E2, R>
  ) => HttpClient.HttpClient.With<E2 | E | AuthSession.SessionClosed, R>
  <E2, R, E>(
    client: HttpClient.HttpClient.With<E2, R>,
    session: AuthSession.AuthSession<E, unknown>,
    options?: Options
  ): HttpClient.HttpClient.With<E2 | E | AuthSession.SessionClosed, R>
} = dual(
  (args) => HttpClient.TypeId in args[0],
  <E2, R, E>(
    client: HttpClient.HttpClient.With<E2, R>,
    session: AuthSession.AuthSession<E, unknown>,
    options?: Options
  ): HttpClient.HttpClient.With<E2 | E | AuthSession.SessionClosed, R> =>
    authenticate(client, session, options?.isExpired, Effect.succeed)
)

/**
 * `client` authenticated by `session` as `withSession` describes, with `preprocess` run on each
 * request first: one client object, where stacking `withSession` and a `mapRequestInputEffect`
 * builds two. A provider session holds one for as long as it lives, so what it keeps counts.
 */
const authenticate = <E2, R, E, EP>(
  client: HttpClient.HttpClient.With<E2, R>,
  session: AuthSession.AuthSession<E, unknown>,
  isExpired: Options["isExpired"],
  preprocess: HttpClient.HttpClient.Preprocess<EP, never>
): HttpClient.HttpClient.With<E2 | E | EP | AuthSession.SessionClosed, R> => {
  // The session's token for this attempt; when the response rejects it (and `retry`), the
  // session is told that exactly this token is dead, and the request goes once more.
  const send = (
    request: HttpClientRequest.HttpClientRequest,
    retry: boolean
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E2 | E | AuthSession.SessionClosed, R> =>
    Effect.flatMap(session.token, (tokens) =>
      Effect.flatMap(
        client.execute(HttpClientRequest.bearerToken(request, tokens.accessToken)),
        (response) =>
          retry && (response.status === 401 || isExpired?.(response))
            ? discard(response).pipe(
              Effect.zipRight(session.invalidate(tokens)),
              Effect.zipRight(send(request, false))
            )
            : Effect.succeed(response)
      ))
  return HttpClient.makeWith(
    // Spans of these calls record credential headers (ours, and what the API answers with, such
    // as a `Location` carrying a code) as `<redacted>`.
    Effect.flatMap((request) => Scrubber.withRedactedHeaders(send(request, true))),
    preprocess
  )
}

/** The origin of a URL, or `undefined` when it is relative (no scheme). */
const originOf = (url: string): string | undefined => {
  try {
    return new URL(url).origin
  } catch {
    return undefined
  }
}

/** The origin a client bound to `baseUrl` sends to, computed once for the sessions of one base URL. */
const expectedOrigin = lastOf((baseUrl: string): string => originOf(baseUrl) ?? baseUrl)

/**
 * The `HttpClient` in context, bound to a provider's `baseUrl` and authenticated by `session`
 * (see `withSession`): what every provider session offers for the rest of its API. A relative
 * URL is resolved against `baseUrl`; an absolute URL on the same origin (scheme, host and port)
 * is sent as it is, so a pagination link can be followed; an absolute URL on any other origin
 * fails with `ForeignOrigin` before a token is attached or a request sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(
  session: AuthSession.AuthSession<E, unknown>,
  options: Options & { readonly baseUrl: string }
): Effect.Effect<HttpClient.HttpClient.With<ClientError<E>>, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => {
    // The base URL alone is kept, not the options; its origin is shared by the sessions of a provider.
    const baseUrl = options.baseUrl
    const expected = expectedOrigin(baseUrl)
    // Runs before the session is asked for a token, so a refused request neither carries nor
    // costs one.
    return authenticate(client, session, options.isExpired, (request) => {
      const requested = originOf(request.url)
      return requested === undefined || requested === expected
        ? Effect.succeed(requested ? request : HttpClientRequest.prependUrl(request, baseUrl))
        : Effect.fail(new ForeignOrigin({ expected, requested }))
    })
  })

/**
 * `make`, paired with its session: the service every provider session layer provides.
 *
 * @since 0.1.0
 * @category constructors
 */
export const authenticated = <E, EV>(
  session: AuthSession.AuthSession<E, EV>,
  options: Options & { readonly baseUrl: string }
): Effect.Effect<Authenticated<E, EV>, never, HttpClient.HttpClient> =>
  Effect.map(make(session, options), (client) => ({ session, client }))
