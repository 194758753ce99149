/**
 * Authenticated `HttpClient`s: the user's own calls to a provider's API, with the session's
 * access token attached and a token the server rejected replaced once.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import type * as AuthSession from "./AuthSession.js"
import * as Scrubber from "./Scrubber.js"

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

/** The most of a rejected body read before the retry, and the longest wait for it. */
const discardLimit = 64 * 1024
const discardTimeout = Duration.seconds(1)

/**
 * Reads a rejected body to its end so its connection goes back to the pool, but no more than
 * `discardLimit` bytes for no longer than `discardTimeout`: a 401 that drips forever must not
 * hang the caller. A body abandoned this way closes its connection instead.
 */
const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.stream.pipe(
    Stream.runFoldWhile(0, (read) => read <= discardLimit, (read, chunk) => read + chunk.length),
    Effect.timeout(discardTimeout),
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
    session: AuthSession.AuthSession<E>,
    options?: Options
  ): <E2, R>(
    client: HttpClient.HttpClient.With<E2, R>
  ) => HttpClient.HttpClient.With<E2 | E | AuthSession.ReauthenticationRequired | AuthSession.SessionClosed, R>
  <E2, R, E>(
    client: HttpClient.HttpClient.With<E2, R>,
    session: AuthSession.AuthSession<E>,
    options?: Options
  ): HttpClient.HttpClient.With<E2 | E | AuthSession.ReauthenticationRequired | AuthSession.SessionClosed, R>
} = dual(
  (args) => Predicate.hasProperty(args[0], HttpClient.TypeId),
  <E2, R, E>(
    client: HttpClient.HttpClient.With<E2, R>,
    session: AuthSession.AuthSession<E>,
    options?: Options
  ): HttpClient.HttpClient.With<E2 | E | AuthSession.ReauthenticationRequired | AuthSession.SessionClosed, R> => {
    const isExpired = options?.isExpired
    const rejected = (response: HttpClientResponse.HttpClientResponse) =>
      response.status === 401 || (isExpired !== undefined && isExpired(response))
    const send = (request: HttpClientRequest.HttpClientRequest) =>
      Effect.flatMap(session.token, (tokens) =>
        Effect.map(
          client.execute(HttpClientRequest.bearerToken(request, tokens.accessToken)),
          (response) => [tokens, response] as const
        ))
    return HttpClient.makeWith<
      never,
      never,
      E2 | E | AuthSession.ReauthenticationRequired | AuthSession.SessionClosed,
      R
    >(
      Effect.flatMap((request) =>
        // Spans of these calls record credential headers (ours, and what the API answers with,
        // such as a `Location` carrying a code) as `<redacted>`.
        Scrubber.withRedactedHeaders(Effect.flatMap(send(request), ([sent, response]) =>
          rejected(response)
            ? Effect.all([
              discard(response),
              session.invalidate(sent),
              Effect.map(send(request), ([, retried]) => retried)
            ]).pipe(Effect.map(([, , retried]) => retried))
            : Effect.succeed(response)))
      ),
      Effect.succeed
    )
  }
)

/**
 * The `HttpClient` in context, bound to a provider's `baseUrl` and authenticated by `session`
 * (see `withSession`): what every provider session offers for the rest of its API.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(
  session: AuthSession.AuthSession<E>,
  options: Options & { readonly baseUrl: string }
): Effect.Effect<
  HttpClient.HttpClient.With<
    HttpClientError.HttpClientError | E | AuthSession.ReauthenticationRequired | AuthSession.SessionClosed
  >,
  never,
  HttpClient.HttpClient
> =>
  Effect.map(HttpClient.HttpClient, (client) =>
    client.pipe(
      HttpClient.mapRequest(HttpClientRequest.prependUrl(options.baseUrl)),
      withSession(session, options)
    ))
