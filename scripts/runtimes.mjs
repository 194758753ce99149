// Where the Bun and Deno binaries of the `bun` and `deno` dev dependencies are. Both npm packages
// ship the binary in a per-platform optional package and link it in a postinstall script; npm 11
// does not run dependency install scripts unless they are approved, so look in both places.
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { root } from "./packages.mjs"

const modules = path.join(root, "node_modules")
const arch = process.arch

const first = (name, candidates) => {
  for (const candidate of candidates) {
    if (!fs.existsSync(candidate) || fs.statSync(candidate).size < 1_000_000) continue
    try {
      childProcess.execFileSync(candidate, ["--version"], { stdio: "ignore" })
      return candidate
    } catch {
      // not runnable here (another platform's binary, or a placeholder): try the next one
    }
  }
  throw new Error(`no runnable ${name} binary in node_modules (looked at ${candidates.join(", ")}); run npm ci`)
}

const scoped = (scope, prefix, file) =>
  fs.existsSync(path.join(modules, scope))
    ? fs.readdirSync(path.join(modules, scope))
      .filter((folder) => folder.startsWith(prefix))
      .sort((a, b) => a.length - b.length)
      .map((folder) => path.join(modules, scope, folder, file))
    : []

/** The Bun binary: `@oven/bun-<platform>/bin/bun`, or where bun's postinstall put it. */
export const bunBinary = () =>
  first("bun", [
    ...scoped("@oven", `bun-${process.platform}-${arch === "arm64" ? "aarch64" : arch}`, "bin/bun"),
    path.join(modules, "bun", "bin", "bun.exe")
  ])

/** The Deno binary: `@deno/<platform>/deno`, or where deno's postinstall put it. */
export const denoBinary = () =>
  first("deno", [
    ...scoped("@deno", `${process.platform}-${arch}`, "deno"),
    path.join(modules, "deno", "deno")
  ])
