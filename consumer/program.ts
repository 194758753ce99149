/**
 * What a user outside this repository writes after `npm install @effect-auth/occam`: log in to
 * Occam, refresh (Occam rotates the refresh token), and catch the typed errors of a reused refresh
 * token and a wrong password, over the platform's `FetchHttpClient`, so the same file runs under
 * Node, Bun and Deno. The fake it talks to is served by `serve.ts`; its address and the account
 * come from the environment (`OCCAM_BASE_URL`, `OCCAM_USERNAME`, `OCCAM_PASSWORD`), read with
 * `Config` as an application would.
 */
import * as OccamAuth from "@effect-auth/occam/OccamAuth"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Cause, Config, Effect, Exit, Layer, Redacted } from "effect"

const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"

const OccamLive = OccamAuth.layerConfig().pipe(Layer.provide(FetchHttpClient.layer))

const program = Effect.gen(function*() {
  const auth = yield* OccamAuth.OccamAuth
  const username = yield* Config.string("OCCAM_USERNAME")
  const password = yield* Config.redacted("OCCAM_PASSWORD")

  const tokens = yield* auth.login({ username, password })
  const firstRefreshToken = tokens.refreshToken
  if (firstRefreshToken === undefined) return yield* Effect.fail("the login answered no refresh token")
  console.log(`logged in as ${username}: access token ${tokens.accessToken}, expires at ${tokens.expiresAt}`)

  const refreshed = yield* auth.refresh(firstRefreshToken)
  const rotated = refreshed.refreshToken !== undefined &&
    Redacted.value(refreshed.refreshToken) !== Redacted.value(firstRefreshToken)
  console.log(`refreshed: refresh token ${rotated ? "rotated" : "kept"}`)

  const reused = yield* auth.refresh(firstRefreshToken).pipe(
    Effect.as("the spent refresh token was accepted"),
    Effect.catchTag("RefreshTokenExpired", (error) => Effect.succeed(`RefreshTokenExpired (${error.detail})`))
  )
  console.log(`reused refresh token: ${reused}`)

  const wrong = yield* auth.login({ username, password: Redacted.make("not the password") }).pipe(
    Effect.as("the wrong password was accepted"),
    Effect.catchTag("InvalidCredentials", (error) => Effect.succeed(`InvalidCredentials (${error.detail})`))
  )
  console.log(`wrong password: ${wrong}`)
})

Effect.runPromiseExit(program.pipe(Effect.provide(OccamLive))).then((exit) => {
  if (Exit.isSuccess(exit)) {
    console.log(`consumer program ok under ${runtime}`)
  } else {
    console.error(`consumer program failed under ${runtime}:\n${Cause.pretty(exit.cause)}`)
    process.exitCode = 1
  }
})
