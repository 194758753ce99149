// Builds every library package (see packages.mjs) into the folder that is published, as Effect's
// own packages are built (tsc, then babel's pure-call annotations, then a generated package.json):
//
//   packages/<name>/build/esm, build/dts   tsc -b tsconfig.build.json: ES2022 modules, .d.ts,
//                                          declaration maps and source maps
//   packages/<name>/dist/                  the package as published (`npm pack packages/<name>/dist`):
//     package.json                         exports with `types` and `default` for `.` and each module,
//                                          sibling packages as `^<version>`, Effect as peers
//     dist/esm/*.js(.map)                  the ESM build with `/*#__PURE__*/` call annotations
//     dist/dts/*.d.ts(.map)                the declarations, mapped to the sources
//     src/**                               the sources the maps point at
//     README.md, LICENSE
//
// In the workspace, `packages/<name>/package.json` keeps exporting `./src/*.ts`, so tests and
// examples run on the sources with no build step.
//
// The tsconfig.build.json files (each package's, and the root one that references them all) are
// derived from each package's tsconfig.src.json and written by every build; they are not
// committed, so a new package needs nothing but its own package.json, tsconfigs, src and README.
//
//   node scripts/build.mjs                 write the tsconfig.build.json files, build, pack
//   node scripts/build.mjs --configs       only write the tsconfig.build.json files
//   node scripts/build.mjs --clean         remove build/, dist/ and docs/ of every library package
import * as babel from "@babel/core"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { libraryNames, libraryPackages, root } from "./packages.mjs"

const json = (value) => `${JSON.stringify(value, null, 2)}\n`
const read = (file) => JSON.parse(fs.readFileSync(file, "utf8"))

// -----------------------------------------------------------------------------
// tsconfig.build.json, derived from each package's tsconfig.src.json
// -----------------------------------------------------------------------------

const buildConfigs = () => {
  const packages = libraryPackages()
  const files = new Map()
  for (const pkg of packages) {
    const src = read(path.join(pkg.dir, "tsconfig.src.json"))
    files.set(path.join(pkg.dir, "tsconfig.build.json"), {
      extends: "./tsconfig.src.json",
      references: (src.references ?? []).map((reference) => ({
        path: reference.path.replace(/tsconfig\.src\.json$/, "tsconfig.build.json")
      })),
      compilerOptions: {
        tsBuildInfoFile: ".tsbuildinfo/build.tsbuildinfo",
        outDir: "build/esm",
        declarationDir: "build/dts",
        emitDeclarationOnly: false,
        sourceMap: true,
        declarationMap: true,
        stripInternal: true
      }
    })
  }
  files.set(path.join(root, "tsconfig.build.json"), {
    extends: "./tsconfig.base.json",
    include: [],
    references: packages.map((pkg) => ({ path: `packages/${pkg.folder}/tsconfig.build.json` }))
  })
  return files
}

const writeConfigs = () => {
  for (const [file, config] of buildConfigs()) {
    const text = json(config)
    if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) fs.writeFileSync(file, text)
  }
}

// -----------------------------------------------------------------------------
// the published folder
// -----------------------------------------------------------------------------

const walk = (dir) =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(path.join(dir, entry.name)) : [path.join(dir, entry.name)]
  )

/** Copies `build/esm` to `to`, adding `/*#__PURE__*\/` annotations and keeping the maps exact. */
const annotate = async (from, to) => {
  for (const file of walk(from).filter((file) => file.endsWith(".js"))) {
    const target = path.join(to, path.relative(from, file))
    fs.mkdirSync(path.dirname(target), { recursive: true })
    const inputSourceMap = read(`${file}.map`)
    const result = await babel.transformAsync(fs.readFileSync(file, "utf8"), {
      babelrc: false,
      configFile: false,
      filename: file,
      plugins: ["annotate-pure-calls"],
      sourceMaps: true,
      inputSourceMap,
      retainLines: false,
      compact: false
    })
    if (result?.code == null || result.map == null) throw new Error(`babel produced nothing for ${file}`)
    const map = { ...result.map, file: path.basename(target), sources: inputSourceMap.sources }
    delete map.sourcesContent
    fs.writeFileSync(target, result.code.endsWith("\n") ? result.code : `${result.code}\n`)
    fs.writeFileSync(`${target}.map`, JSON.stringify(map))
  }
}

const copy = (from, to, keep = () => true) => {
  for (const file of walk(from).filter(keep)) {
    const target = path.join(to, path.relative(from, file))
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.copyFileSync(file, target)
  }
}

/** The published package.json: what a registry user installs. */
const manifest = (pkg, versions) => {
  const source = pkg.manifest
  const modules = fs.readdirSync(path.join(pkg.dir, "src"))
    .filter((file) => file.endsWith(".ts") && file !== "index.ts")
    .map((file) => file.slice(0, -3))
    .sort()
  const entry = (module) => ({ types: `./dist/dts/${module}.d.ts`, default: `./dist/esm/${module}.js` })
  const exports = { "./package.json": "./package.json", ".": entry("index") }
  for (const module of modules) exports[`./${module}`] = entry(module)
  // A sibling is required at the version this release has, and at any later compatible one:
  // `changeset version` bumps every sibling together (config `fixed`), so the ranges stay in step.
  const ranges = (deps) =>
    deps === undefined ? undefined : Object.fromEntries(
      Object.entries(deps).map(([name, range]) => [name, versions.has(name) ? `^${versions.get(name)}` : range])
    )
  const out = {
    name: source.name,
    version: source.version,
    description: source.description,
    license: source.license,
    repository: source.repository,
    homepage: source.homepage,
    keywords: source.keywords,
    type: "module",
    sideEffects: source.sideEffects ?? [],
    engines: source.engines,
    types: "./dist/dts/index.d.ts",
    module: "./dist/esm/index.js",
    main: "./dist/esm/index.js",
    exports,
    files: ["dist", "src", "README.md", "LICENSE"],
    dependencies: ranges(source.dependencies),
    peerDependencies: ranges(source.peerDependencies),
    peerDependenciesMeta: source.peerDependenciesMeta,
    publishConfig: { access: "public" }
  }
  return Object.fromEntries(Object.entries(out).filter(([, value]) => value !== undefined))
}

const pack = async (pkg, versions) => {
  if (!fs.existsSync(path.join(pkg.dir, "README.md"))) throw new Error(`${pkg.name}: README.md is missing`)
  // Each package carries the repository's license; a package without its own copy ships the root's.
  const license = [path.join(pkg.dir, "LICENSE"), path.join(root, "LICENSE")].find((file) => fs.existsSync(file))
  if (license === undefined) throw new Error(`${pkg.name}: LICENSE is missing`)
  const out = path.join(pkg.dir, "dist")
  fs.rmSync(out, { recursive: true, force: true })
  await annotate(path.join(pkg.dir, "build", "esm"), path.join(out, "dist", "esm"))
  copy(path.join(pkg.dir, "build", "dts"), path.join(out, "dist", "dts"))
  copy(path.join(pkg.dir, "src"), path.join(out, "src"))
  fs.copyFileSync(path.join(pkg.dir, "README.md"), path.join(out, "README.md"))
  fs.copyFileSync(license, path.join(out, "LICENSE"))
  fs.writeFileSync(path.join(out, "package.json"), json(manifest(pkg, versions)))
}

// -----------------------------------------------------------------------------
// main
// -----------------------------------------------------------------------------

if (process.argv.includes("--clean")) {
  for (const pkg of libraryPackages()) {
    for (const folder of ["build", "dist", "docs"]) {
      fs.rmSync(path.join(pkg.dir, folder), { recursive: true, force: true })
    }
  }
} else if (process.argv.includes("--configs")) {
  writeConfigs()
} else {
  writeConfigs()
  const packages = libraryPackages()
  // A stale build would be packed as is: clear it, then build from scratch.
  for (const pkg of packages) {
    fs.rmSync(path.join(pkg.dir, "build", "esm"), { recursive: true, force: true })
    fs.rmSync(path.join(pkg.dir, "build", "dts"), { recursive: true, force: true })
    fs.rmSync(path.join(pkg.dir, ".tsbuildinfo", "build.tsbuildinfo"), { force: true })
  }
  const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc")
  childProcess.execFileSync(process.execPath, [tsc, "-b", "tsconfig.build.json"], { cwd: root, stdio: "inherit" })
  const names = libraryNames()
  const versions = new Map(packages.filter((pkg) => names.has(pkg.name)).map((pkg) => [pkg.name, pkg.manifest.version]))
  for (const pkg of packages) await pack(pkg, versions)
  console.log(`built ${packages.map((pkg) => `packages/${pkg.folder}/dist`).join(", ")}`)
}
