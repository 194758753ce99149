/**
 * The multi-process soak of `@effect-auth/redis`: N Node processes, each with its own session for
 * one Occam identity, share one Redis and one fake Occam (on a port) that rotates refresh tokens
 * and rejects reuse; every process calls the protected route throughout. The parent hosts the
 * fake and counts at the server what a provider would see: refreshes, reuse rejections and
 * requests that carried an expired token; the processes count their callers' failures.
 *
 * Faults, one per run: `kill-holder` (SIGKILL of the lease holder while its refresh is at the
 * server), `partition` (one process cut off from Redis for a while: its connections are reset
 * and new ones refused) and `redis-restart` (Redis killed and started again, empty).
 *
 * @since 0.1.0
 */
import * as RedisTokenStore from "@effect-auth/redis/RedisTokenStore"
import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as NodeRedisServer from "@effect-auth/testing/NodeRedisServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { Redis } from "ioredis"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import * as Path from "node:path"
import type { Report } from "./worker.js"

/** The faults a run can inject. */
export type Fault = "none" | "kill-holder" | "partition" | "redis-restart"

export interface Options {
  readonly fault: Fault
  readonly processes: number
  /** How long the processes call the protected route, in milliseconds. */
  readonly duration: number
  /** The access token lifetime, in milliseconds. */
  readonly lifetime: number
  /** When the fault starts, in milliseconds after the calls start. */
  readonly faultAt: number
  /** How long a partition lasts, in milliseconds. */
  readonly partitionFor: number
}

/** What a run measured. */
export interface Result {
  readonly options: Options
  /** Access tokens the fake issued (logins and refreshes). */
  readonly tokensIssued: number
  /** Issued access tokens whose lifetime ended before the calls stopped. */
  readonly tokenExpiries: number
  /** Expired tokens whose refresh token was presented exactly once (the target: all of them). */
  readonly expiriesWithOneRefresh: number
  /** The most refreshes that presented the refresh token of one expired token. */
  readonly mostRefreshesOfOneToken: number
  readonly loginsSent: number
  readonly refreshesSent: number
  /** Refreshes presenting a refresh token that was already used (400) or unknown (404). */
  readonly reuseRejections: number
  /** Protected requests the fake answered "Token expired". */
  readonly expiredTokenRequests: number
  readonly protectedRequests: number
  /** Caller requests that did not end in a 200, over the processes that reported. */
  readonly failedCallerRequests: number
  readonly callerRequests: number
  readonly failures: Record<string, number>
  readonly reported: number
  readonly killed: ReadonlyArray<number>
  readonly notes: ReadonlyArray<string>
}

const workerPath = Path.join(import.meta.dirname, "worker.ts")
const account = { username: "soak@example.com", password: "soak-password-7f3c" }

/** A TCP proxy to Redis that can cut its clients off: resets their sockets and refuses new ones. */
const proxy = (target: number) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ port: number; cut: (on: boolean) => void; server: Net.Server }>((resolve) => {
        const sockets = new Set<Net.Socket>()
        let cutOff = false
        const server = Net.createServer((inbound) => {
          if (cutOff) return inbound.destroy()
          const outbound = Net.connect(target, "127.0.0.1")
          sockets.add(inbound).add(outbound)
          const drop = () => {
            inbound.destroy()
            outbound.destroy()
            sockets.delete(inbound)
            sockets.delete(outbound)
          }
          inbound.on("error", drop).on("close", drop)
          outbound.on("error", drop).on("close", drop)
          inbound.pipe(outbound).pipe(inbound)
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resolve({
            port: typeof address === "object" && address !== null ? address.port : 0,
            cut: (on) => {
              cutOff = on
              if (on) { for (const socket of sockets) socket.destroy() }
            },
            server
          })
        })
      })
    ),
    ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  )

const isReportMessage = (message: unknown): message is { readonly report: Report } =>
  typeof message === "object" && message !== null && "report" in message &&
  typeof message.report === "object" && message.report !== null && "pid" in message.report &&
  typeof message.report.pid === "number"

const field = (text: string, name: string): unknown => {
  try {
    const json: unknown = JSON.parse(text)
    return typeof json === "object" && json !== null && name in json ? Reflect.get(json, name) : undefined
  } catch {
    return undefined
  }
}
const stringField = (text: string, name: string) => {
  const value = field(text, name)
  return typeof value === "string" ? value : undefined
}
const numberField = (text: string, name: string) => {
  const value = field(text, name)
  return typeof value === "number" ? value : undefined
}

const textOf = (response: HttpServerResponse.HttpServerResponse): string =>
  response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body) : ""

/** Runs one soak and returns its figures. */
export const run = (options: Options) =>
  Effect.scoped(Effect.gen(function*() {
    const notes: Array<string> = []
    const redis = yield* NodeRedisServer.spawn()
    const cutProxy = yield* proxy(redis.port)
    const fake = yield* FakeOccam.make({
      accounts: [account],
      accessTokenLifetime: options.lifetime,
      refreshTokenLifetime: "1 hour",
      expiresAtUnit: "milliseconds"
    })

    // What the provider sees.
    // Every token pair the fake issued, by refresh token, with the refreshes that presented it.
    const issued = new Map<string, { readonly expiresAt: number; refreshes: number }>()
    const counts = { logins: 0, refreshes: 0, rejections: 0, expired: 0, protected: 0 }
    let onRefreshArrival: (() => Promise<void>) | undefined
    const observed = {
      ...fake.server,
      handle: Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const path = new URL(request.url, "http://fake.invalid").pathname
        if (path === "/auth/refresh-token") {
          counts.refreshes++
          const presented = stringField(yield* Effect.orElseSucceed(request.text, () => ""), "refresh_token")
          const pair = presented === undefined ? undefined : issued.get(presented)
          if (pair !== undefined) pair.refreshes++
          const arrival = onRefreshArrival
          onRefreshArrival = undefined
          if (arrival !== undefined) yield* Effect.promise(arrival)
        }
        if (path === "/auth/access-token" && request.method === "POST") counts.logins++
        const response = yield* fake.server.handle
        if (path === FakeOccam.protectedPath) {
          counts.protected++
          if (response.status === 401 && textOf(response).includes(FakeOccam.messages.tokenExpired)) counts.expired++
        }
        if (path.startsWith("/auth/") && response.status === 200) {
          const text = textOf(response)
          const refreshToken = stringField(text, "refresh_token")
          const expiresAt = numberField(text, "expires_at")
          if (refreshToken !== undefined && expiresAt !== undefined) {
            issued.set(refreshToken, { expiresAt, refreshes: 0 })
          }
        }
        if (path === "/auth/refresh-token" && (response.status === 400 || response.status === 404)) counts.rejections++
        return response
      })
    }
    const { url } = yield* NodeFakeServer.serve(observed)
    // The fake's request log would grow for the whole run: keep it short.
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep("1 second"), fake.server.clearRequests)))

    const key = Crypto.randomBytes(32).toString("base64")
    const children = Array.from({ length: options.processes }, (_, index) =>
      ChildProcess.fork(workerPath, [], {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        env: {
          ...process.env,
          // Process 0 reaches Redis through the proxy, so a partition can cut it off alone.
          REDIS_URL: index === 0 ? `redis://127.0.0.1:${cutProxy.port}` : redis.url,
          EFFECT_AUTH_REDIS_KEY: key,
          SOAK_FAKE_URL: url,
          SOAK_USERNAME: account.username,
          SOAK_PASSWORD: account.password,
          SOAK_LEASE_TTL_MS: "2000"
        }
      }))
    const reports = new Map<number, Report>()
    const killed: Array<number> = []
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
    )
    yield* Effect.promise(() =>
      Promise.all(children.map((child) =>
        new Promise<void>((resolve, reject) => {
          child.on("message", (message: unknown) => {
            if (message === "ready") resolve()
            else if (isReportMessage(message)) reports.set(message.report.pid, message.report)
          })
          child.once("exit", (code) => reject(new Error(`a soak process exited early (${code})`)))
        }).catch(() => undefined)
      ))
    )

    const observer = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
    observer.on("error", () => undefined)
    yield* Effect.addFinalizer(() => Effect.sync(() => observer.disconnect()))
    const leaseKey = RedisTokenStore.keysOf("effect-auth:", "occam:soak").lease

    const faultRun = Effect.gen(function*() {
      yield* Effect.sleep(options.faultAt)
      switch (options.fault) {
        case "none":
          return
        case "kill-holder": {
          // Hold the next refresh at the server for 500 ms; while it is there, kill the process
          // that holds the lease (its owner id names its pid). The server still processes the
          // request: the refresh token it carried is spent and its answer goes nowhere.
          onRefreshArrival = async () => {
            const owner = await observer.get(leaseKey).catch(() => null)
            const pid = owner === null ? NaN : Number(/^pid:(\d+)\//.exec(owner)?.[1])
            const victim = children.find((child) => child.pid === pid)
            if (victim !== undefined) {
              victim.kill("SIGKILL")
              killed.push(pid)
              notes.push(`killed pid ${pid} (the lease holder) while its refresh was at the server`)
            } else notes.push("the refresh arrived without a lease holder to kill")
            await new Promise((resolve) => setTimeout(resolve, 500))
          }
          return
        }
        case "partition": {
          cutProxy.cut(true)
          notes.push(`process 0 (pid ${children[0].pid}) cut off from Redis for ${options.partitionFor} ms`)
          yield* Effect.sleep(options.partitionFor)
          cutProxy.cut(false)
          return
        }
        case "redis-restart": {
          yield* redis.stop
          const stopped = Date.now()
          yield* Effect.orDie(redis.start)
          notes.push(`Redis killed and started again, empty, after ${Date.now() - stopped} ms`)
          return
        }
      }
    })
    yield* Effect.all([faultRun, Effect.sleep(options.duration)], { concurrency: "unbounded", discard: true })
    const end = Date.now()
    const alive = children.filter((child) => child.exitCode === null && child.signalCode === null)
    for (const child of alive) child.send("stop")
    yield* Effect.promise(() =>
      Promise.race([
        Promise.all(alive.map((child) => new Promise<void>((resolve) => child.once("exit", () => resolve())))),
        new Promise((resolve) => setTimeout(resolve, 10_000))
      ])
    )

    const expired = Array.from(issued.values()).filter((pair) => pair.expiresAt <= end)
    const failures: Record<string, number> = {}
    let failed = 0
    let requests = 0
    for (const report of reports.values()) {
      failed += report.failed
      requests += report.requests
      for (const [why, count] of Object.entries(report.failures)) failures[why] = (failures[why] ?? 0) + count
    }
    const result: Result = {
      options,
      tokensIssued: issued.size,
      tokenExpiries: expired.length,
      expiriesWithOneRefresh: expired.filter((pair) => pair.refreshes === 1).length,
      mostRefreshesOfOneToken: Math.max(0, ...expired.map((pair) => pair.refreshes)),
      loginsSent: counts.logins,
      refreshesSent: counts.refreshes,
      reuseRejections: counts.rejections,
      expiredTokenRequests: counts.expired,
      protectedRequests: counts.protected,
      failedCallerRequests: failed,
      callerRequests: requests,
      failures,
      reported: reports.size,
      killed,
      notes
    }
    return result
  }))

/** The figures of some runs as a Markdown table. */
export const table = (results: ReadonlyArray<Result>): string => {
  const rows = [
    "| run | processes | token expiries | refreshes sent | expiries refreshed exactly once | most refreshes of one token | logins | reuse rejections | expired-token requests | failed caller requests | caller requests |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  ]
  for (const r of results) {
    rows.push(
      `| ${r.options.fault} | ${r.options.processes} (${r.reported} reported) | ${r.tokenExpiries} | ${r.refreshesSent} | ${r.expiriesWithOneRefresh} of ${r.tokenExpiries} | ${r.mostRefreshesOfOneToken} | ${r.loginsSent} | ${r.reuseRejections} | ${r.expiredTokenRequests} | ${r.failedCallerRequests} | ${r.callerRequests} |`
    )
  }
  return rows.join("\n")
}
