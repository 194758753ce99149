// The consumer check: the packages as a user outside this repository gets them.
//
// 1. `npm pack` every library package's published folder (`packages/*/dist`, from `npm run build`)
//    into a temporary folder outside the workspace, and check what each tarball holds;
// 2. install the tarballs there into a fresh project, with the Effect packages pinned as the
//    README's install line pins them (from the npm cache when it has them);
// 3. type-check `program.ts` and `serve.ts` with `tsc` under `moduleResolution` `nodenext` and
//    `bundler`: strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, no DOM lib,
//    skipLibCheck false (so our .d.ts files are checked too);
// 4. serve FakeOccam (from the installed @effect-auth/testing) on a localhost port with plain
//    node, then run the compiled program under plain node, Bun and Deno over FetchHttpClient:
//    each must exit 0 and print the typed outcomes.
//
//   node consumer/check.mjs            KEEP_CONSUMER=1 keeps the temporary folder
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { libraryPackages, root } from "../scripts/packages.mjs"
import { bunBinary, denoBinary } from "../scripts/runtimes.mjs"

const started = performance.now()
const here = import.meta.dirname
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`
const log = (line) => console.log(`[consumer ${elapsed()}] ${line}`)

const fail = (message) => {
  console.error(`consumer check failed: ${message}`)
  process.exit(1)
}

/** A failure inside the check: reported once the temporary folder is cleaned up. */
const bad = (message) => {
  throw new Error(message)
}

/** Runs a command to completion; resolves with its output, rejects with everything it printed. */
const run = (command, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = childProcess.spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 120_000)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve({ stdout, stderr })
      else {
        const why = signal === null ? `exit code ${code}` : `signal ${signal}`
        reject(new Error(`${path.basename(command)} ${args.join(" ")} (${why})\n${stdout}${stderr}`))
      }
    })
  })

// -----------------------------------------------------------------------------
// the pins: the root package.json's devDependencies, which the README's install line repeats
// -----------------------------------------------------------------------------

const rootManifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))
const pin = (name) => {
  const range = rootManifest.devDependencies[name]
  if (range === undefined) fail(`the root package.json does not pin ${name}`)
  return `${name}@${range}`
}
const effectPins = [pin("effect"), pin("@effect/platform")]
const nodePins = [pin("@effect/platform-node")]
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
for (const spec of [...effectPins, ...nodePins]) {
  if (!readme.includes(spec)) fail(`README.md does not pin ${spec} in its install lines`)
}

// -----------------------------------------------------------------------------
// pack
// -----------------------------------------------------------------------------

const packages = libraryPackages()
for (const pkg of packages) {
  if (!fs.existsSync(path.join(pkg.dir, "dist", "package.json"))) {
    fail(`packages/${pkg.folder}/dist is missing: run npm run build first`)
  }
}

const temp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-auth-consumer-"))
const tarballs = path.join(temp, "tarballs")
const project = path.join(temp, "project")
fs.mkdirSync(tarballs)
fs.mkdirSync(project)
const npm = process.platform === "win32" ? "npm.cmd" : "npm"
// npm scripts export npm_config_* variables of the workspace run; the consumer is not in it.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^npm_(config|package|lifecycle)_/i.test(name))
)

try {
  const packed = JSON.parse(
    (await run(npm, [
      "pack",
      "--json",
      "--pack-destination",
      tarballs,
      ...packages.map((pkg) => path.join(pkg.dir, "dist"))
    ], { cwd: temp, env })).stdout
  )
  const allowed = /^(package\.json|README\.md|LICENSE|dist\/(esm|dts)\/.+\.(js|js\.map|d\.ts|d\.ts\.map)|src\/.+\.ts)$/
  for (const tarball of packed) {
    const files = tarball.files.map((file) => file.path)
    const stray = files.filter((file) => !allowed.test(file))
    if (stray.length > 0) bad(`${tarball.name} would ship ${stray.join(", ")}`)
    for (const required of ["README.md", "LICENSE", "dist/esm/index.js", "dist/dts/index.d.ts", "src/index.ts"]) {
      if (!files.includes(required)) bad(`${tarball.name} lacks ${required}`)
    }
  }
  log("packed:")
  for (const tarball of packed) {
    console.log(
      `  ${tarball.filename.padEnd(36)} ${(tarball.size / 1024).toFixed(1).padStart(6)} kB packed, ` +
        `${(tarball.unpackedSize / 1024).toFixed(1).padStart(6)} kB unpacked, ${tarball.entryCount} files`
    )
  }

  // ---------------------------------------------------------------------------
  // install
  // ---------------------------------------------------------------------------

  fs.writeFileSync(
    path.join(project, "package.json"),
    `${JSON.stringify({ name: "effect-auth-consumer", private: true, type: "module" }, null, 2)}\n`
  )
  for (const file of ["program.ts", "serve.ts"]) fs.copyFileSync(path.join(here, file), path.join(project, file))
  // Every module of every package, so tsc checks all our declarations with the consumer's flags
  // and plain node loads every subpath export.
  const modules = packed.flatMap((tarball) => {
    const manifest = JSON.parse(
      fs.readFileSync(path.join(packages.find((pkg) => pkg.name === tarball.name).dir, "dist", "package.json"), "utf8")
    )
    return Object.keys(manifest.exports).filter((subpath) => subpath !== "./package.json").map((subpath) =>
      subpath === "." ? tarball.name : `${tarball.name}/${subpath.slice(2)}`
    )
  })
  fs.writeFileSync(
    path.join(project, "modules.ts"),
    modules.map((specifier, i) => `export * as M${i} from "${specifier}"\n`).join("") +
      `console.log("loaded ${modules.length} modules")\n`
  )
  for (const file of ["tsconfig.nodenext.json", "tsconfig.bundler.json", "storage.d.ts"]) {
    fs.copyFileSync(path.join(here, file), path.join(project, file))
  }
  // @effect/platform 0.97's own KeyValueStore.d.ts names the DOM's `Storage` (for its
  // `layerStorage`), so with no DOM lib and skipLibCheck false anything that reaches it (our
  // TokenStore, and the root of @effect-auth/core) fails to compile in Effect's file, not in ours.
  // The nodenext run, which also checks every module, declares that one interface (storage.d.ts);
  // the bundler run checks program.ts and serve.ts without it.
  const nodenext = JSON.parse(fs.readFileSync(path.join(here, "tsconfig.nodenext.json"), "utf8"))
  fs.writeFileSync(
    path.join(project, "tsconfig.nodenext.json"),
    JSON.stringify({ ...nodenext, files: [...nodenext.files, "modules.ts", "storage.d.ts"] })
  )

  await run(npm, [
    "install",
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    ...packed.map((tarball) => path.join(tarballs, tarball.filename)),
    ...effectPins,
    ...nodePins,
    pin("@types/node")
  ], { cwd: project, env })
  const installed = JSON.parse(fs.readFileSync(path.join(project, "package.json"), "utf8")).dependencies
  log(`installed into ${project}: ${Object.keys(installed).join(", ")}`)

  // ---------------------------------------------------------------------------
  // type-check under both resolutions; the nodenext run also emits the JavaScript that runs
  // ---------------------------------------------------------------------------

  const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc")
  await Promise.all(
    ["tsconfig.nodenext.json", "tsconfig.bundler.json"].map((config) =>
      run(process.execPath, [tsc, "-p", config], { cwd: project, env })
    )
  )
  log(
    `tsc: program.ts and serve.ts clean under bundler, with all ${modules.length} modules under nodenext ` +
      "(strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, no DOM lib, skipLibCheck false)"
  )
  const loaded = await run(process.execPath, ["out/modules.js"], { cwd: project, env })
  if (!loaded.stdout.includes(`loaded ${modules.length} modules`)) bad(`node out/modules.js printed ${loaded.stdout}`)
  log(`node: every subpath export loads (${modules.length} modules)`)

  // ---------------------------------------------------------------------------
  // run under node, bun and deno against the fake served on a port
  // ---------------------------------------------------------------------------

  const account = { OCCAM_USERNAME: "ada@example.com", OCCAM_PASSWORD: "consumer-password" }
  const server = childProcess.spawn(process.execPath, ["out/serve.js"], {
    cwd: project,
    env: { ...env, ...account },
    stdio: ["ignore", "pipe", "inherit"]
  })
  try {
    const url = await new Promise((resolve, reject) => {
      let buffer = ""
      server.stdout.on("data", (chunk) => {
        buffer += chunk
        const line = buffer.split("\n")[0]
        if (buffer.includes("\n")) resolve(JSON.parse(line).url)
      })
      server.on("exit", (code) => reject(new Error(`the fake server exited (${code}) before listening`)))
      setTimeout(() => reject(new Error("the fake server did not listen within 20 s")), 20_000).unref()
    })
    log(`FakeOccam served on ${url}`)

    const programEnv = { ...env, ...account, OCCAM_BASE_URL: url, DENO_DIR: path.join(temp, "deno"), NO_COLOR: "1" }
    const runtimes = [
      ["node", process.execPath, ["out/program.js"]],
      ["bun", bunBinary(), ["out/program.js"]],
      ["deno", denoBinary(), [
        "run",
        "--quiet",
        "--no-prompt",
        "--allow-env",
        "--allow-read",
        `--allow-net=${new URL(url).host}`,
        "out/program.js"
      ]]
    ]
    const expected = [
      /^logged in as ada@example\.com: access token <redacted>, expires at \d+$/m,
      /^refreshed: refresh token rotated$/m,
      /^reused refresh token: RefreshTokenExpired \(Refresh token expired or is already used\)$/m,
      /^wrong password: InvalidCredentials \(Invalid email or password\)$/m
    ]
    const results = await Promise.allSettled(runtimes.map(async ([name, binary, args]) => {
      const { stdout } = await run(binary, args, { cwd: project, env: programEnv, timeout: 30_000 })
      const missing = [...expected, new RegExp(`^consumer program ok under ${name}$`, "m")]
        .filter((pattern) => !pattern.test(stdout))
      if (missing.length > 0) throw new Error(`${name} printed:\n${stdout}\nwithout ${missing.join(", ")}`)
      return { name, stdout }
    }))
    const failures = results.filter((result) => result.status === "rejected")
    if (failures.length > 0) bad(failures.map((failure) => failure.reason.message).join("\n\n"))
    for (const result of results) {
      log(`${result.value.name}:`)
      console.log(result.value.stdout.trimEnd().replace(/^/gm, "  "))
    }
  } finally {
    const exited = new Promise((resolve) => server.once("close", resolve))
    server.kill("SIGTERM")
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())])
    if (server.exitCode === null) server.kill("SIGKILL")
  }
  log(`ok: packed, installed, type-checked and ran under node, bun and deno in ${elapsed()}`)
} catch (error) {
  process.exitCode = 1
  console.error(`consumer check failed: ${error instanceof Error ? error.message : String(error)}`)
} finally {
  if (process.env.KEEP_CONSUMER === undefined) fs.rmSync(temp, { recursive: true, force: true, maxRetries: 2 })
  else console.log(`kept ${temp}`)
}
