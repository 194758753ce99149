import * as NodeRedisServer from "@effect-auth/testing/NodeRedisServer"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

// `npm run example:redis` as a user runs it: two session processes, one identity, one refresh.

const root = Path.resolve(import.meta.dirname, "..", "..")
const tsx = Path.join(root, "node_modules", ".bin", "tsx")
const installed = NodeRedisServer.isInstalled()
if (!installed && process.env.CI !== undefined && process.env.CI !== "") {
  throw new Error("CI needs redis-server for example:redis")
}

describe.skipIf(!installed)("npm run example:redis", () => {
  it.live(
    "two processes share one identity: one login, one refresh, no token printed",
    () =>
      Effect.async<{ code: number | null; output: string }>((resume) => {
        const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== "REDIS_URL"))
        const child = ChildProcess.spawn(tsx, [Path.join(root, "examples", "redis.ts")], {
          cwd: root,
          env,
          stdio: ["ignore", "pipe", "pipe"]
        })
        let output = ""
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => output += chunk)
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => output += chunk)
        child.on("close", (code) => resume(Effect.succeed({ code, output })))
        return Effect.sync(() => void child.kill())
      }).pipe(Effect.map(({ code, output }) => {
        expect(code).toBe(0)
        expect(output).toContain("✓ the fake saw 1 login and 1 refresh for two processes")
        expect(output).toMatch(/\[[AB]\] .*adopted from Redis: this process sent no refresh/)
        expect(output).toMatch(/\[[AB]\] .*this process sent 1 refresh/)
        expect(output.match(/occam-(at|rt)-\d+/g)).toBeNull()
      })),
    60_000
  )
})
