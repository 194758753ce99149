/**
 * A throwaway Redis for tests, soaks and examples of `@effect-auth/redis`: `redis-server` (from
 * the `PATH`, such as Debian's `redis-server` package) started on a free localhost port with a
 * temporary directory and no persistence, killed when the scope closes. It can be stopped and
 * started again on the same port, to test what happens while Redis is away.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * `redis-server` could not be started.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisServerError extends Data.TaggedError("RedisServerError")<{ readonly message: string }> {}

/**
 * A Redis server for a test.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string
  readonly port: number
  /** Whether this process started it (and so can `stop` and `start` it). */
  readonly owned: boolean
  /** Kills the server (SIGKILL), as a crash would; its data is lost. */
  readonly stop: Effect.Effect<void>
  /** Starts the server again on the same port, empty. */
  readonly start: Effect.Effect<void, RedisServerError>
}

/**
 * Whether `redis-server` is on the `PATH`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isInstalled = (): boolean => {
  const probe = ChildProcess.spawnSync("redis-server", ["--version"], { stdio: "ignore" })
  return probe.error === undefined && probe.status === 0
}

/**
 * Where Redis tests can run: `"url"` when `REDIS_URL` is set, `"spawn"` when `redis-server` is
 * installed, `undefined` when neither.
 *
 * @since 0.1.0
 * @category predicates
 */
export const availability = (): "url" | "spawn" | undefined =>
  process.env.REDIS_URL !== undefined && process.env.REDIS_URL !== "" ? "url" : isInstalled() ? "spawn" : undefined

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Resolves once the port accepts a connection and answers PING, or rejects after `within` ms. */
const waitForPing = (port: number, within: number): Promise<void> =>
  new Promise((resolve, reject) => {
    // Counted in attempts 25 ms apart rather than read from a clock.
    let left = Math.ceil(within / 25)
    const attempt = () => {
      const socket = Net.connect(port, "127.0.0.1")
      let answer = ""
      const retry = () => {
        socket.destroy()
        if (--left <= 0) reject(new Error(`redis-server did not answer on port ${port}`))
        else setTimeout(attempt, 25)
      }
      socket.once("error", retry)
      socket.once("connect", () => socket.write("PING\r\n"))
      socket.on("data", (chunk) => {
        answer += chunk.toString()
        if (answer.includes("PONG")) {
          socket.destroy()
          resolve()
        } else if (answer.includes("\r\n")) retry()
      })
    }
    attempt()
  })

/**
 * Starts `redis-server` on a free port (or `port`) for as long as the scope lives.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawn = (options: { readonly port?: number | undefined } = {}): Effect.Effect<
  RedisServer,
  RedisServerError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const port = options.port ?? (yield* Effect.promise(freePort))
    const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-auth-redis-"))
    let child: ChildProcess.ChildProcess | undefined

    const stop = Effect.promise(() =>
      new Promise<void>((resolve) => {
        const running = child
        child = undefined
        if (running === undefined || running.exitCode !== null || running.signalCode !== null) return resolve()
        running.once("exit", () => resolve())
        running.kill("SIGKILL")
      })
    )
    const start = Effect.tryPromise({
      try: async () => {
        if (child !== undefined) return
        const started = ChildProcess.spawn("redis-server", [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--dir",
          directory,
          "--save",
          "",
          "--appendonly",
          "no"
        ], { stdio: "ignore" })
        child = started
        await new Promise<void>((resolve, reject) => {
          started.once("error", reject)
          waitForPing(port, 10_000).then(resolve, reject)
        })
      },
      catch: (error) => new RedisServerError({ message: error instanceof Error ? error.message : String(error) })
    })

    yield* Effect.addFinalizer(() =>
      Effect.zipRight(stop, Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true })))
    )
    yield* start
    return { url: `redis://127.0.0.1:${port}`, port, owned: true, stop, start }
  })

/**
 * The Redis of `REDIS_URL` when it is set (not owned: `stop` and `start` do nothing), else a
 * spawned `redis-server` when it is installed, else `None`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEnvironment: Effect.Effect<Option.Option<RedisServer>, RedisServerError, Scope.Scope> = Effect
  .suspend(() => {
    const url = process.env.REDIS_URL
    if (url !== undefined && url !== "") {
      const port = Number(new URL(url).port || "6379")
      return Effect.succeed(Option.some({ url, port, owned: false, stop: Effect.void, start: Effect.void }))
    }
    return isInstalled() ? Effect.map(spawn(), Option.some) : Effect.succeed(Option.none())
  })
