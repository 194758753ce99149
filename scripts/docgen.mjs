// API reference for every library package (see packages.mjs), generated from the JSDoc by
// Effect's `@effect/docgen`: one markdown page per module in `packages/<name>/docs/modules`.
// docgen also type-checks every `@example` (imports of the package's own name are pointed at its
// sources, siblings resolve through the workspace), so a broken example fails `npm test`.
//
// docgen reads the package.json and docgen.json of the folder it runs in and wants a `homepage`;
// the package.json files stay as they are: docgen runs in `packages/<name>/build/docgen`, where
// `src` links to the package's sources, and its output is moved to `packages/<name>/docs`.
//
//   node scripts/docgen.mjs
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { libraryPackages, root } from "./packages.mjs"

/** Compiler options for the examples: the workspace's strict flags, resolved like a bundler. */
const examplesCompilerOptions = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUnusedLocals: false,
  noEmit: true,
  skipLibCheck: true,
  moduleDetection: "force",
  module: "ESNext",
  moduleResolution: "Bundler",
  target: "ES2022",
  lib: ["ES2022", "DOM", "DOM.Iterable"],
  types: ["node"],
  typeRoots: [path.join(root, "node_modules", "@types")]
}

const docgen = path.join(root, "node_modules", "@effect", "docgen", "bin.cjs")
const env = { ...process.env, PATH: `${path.join(root, "node_modules", ".bin")}${path.delimiter}${process.env.PATH}` }
const failures = []

const one = async (pkg) => {
  const stage = path.join(pkg.dir, "build", "docgen")
  fs.rmSync(stage, { recursive: true, force: true })
  fs.mkdirSync(stage, { recursive: true })
  fs.symlinkSync(path.join(pkg.dir, "src"), path.join(stage, "src"), "dir")
  fs.writeFileSync(
    path.join(stage, "package.json"),
    JSON.stringify({
      name: pkg.name,
      homepage: pkg.manifest.homepage ?? `https://www.npmjs.com/package/${pkg.name}`
    })
  )
  fs.writeFileSync(
    path.join(stage, "docgen.json"),
    JSON.stringify({
      srcDir: "src",
      outDir: "docs",
      exclude: ["src/internal/**/*.ts"],
      enforceVersion: true,
      examplesCompilerOptions
    })
  )
  const result = await new Promise((resolve) => {
    const child = childProcess.spawn(process.execPath, [docgen, "--no-run-examples"], { cwd: stage, env })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    child.on("close", (code) => resolve({ code, output }))
  })
  const docs = path.join(pkg.dir, "docs")
  fs.rmSync(docs, { recursive: true, force: true })
  if (result.code !== 0) {
    failures.push(`${pkg.name}:\n${result.output}`)
    return
  }
  fs.renameSync(path.join(stage, "docs"), docs)
  const modules = fs.readdirSync(path.join(docs, "modules")).filter((file) => file.endsWith(".md"))
  console.log(`${pkg.name}: ${modules.length} module pages in packages/${pkg.folder}/docs/modules`)
}

// One docgen per CPU at a time: each loads its own TypeScript and type-checks its package.
const queue = libraryPackages()
await Promise.all(
  Array.from({ length: Math.max(1, Math.min(queue.length, os.availableParallelism())) }, async () => {
    while (queue.length > 0) await one(queue.shift())
  })
)

if (failures.length > 0) {
  console.error(`docgen failed:\n\n${failures.join("\n\n")}`)
  process.exit(1)
}
