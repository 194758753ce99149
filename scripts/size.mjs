// Sizes of the published build (`packages/*/dist`, from `npm run build`), as a bundler sees it:
// each entry bundled and minified with esbuild (ESM, tree-shaken, honouring the build's
// `/*#__PURE__*/` annotations and `sideEffects`), `effect` and `@effect/platform` external, as an
// application that already uses Effect ships it; then gzipped at level 9. `@effect-auth/*` imports
// resolve to the built folders through their published `exports` maps, not to the sources.
//
//   node scripts/size.mjs
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { libraryPackages, root } from "./packages.mjs"

const built = new Map(
  libraryPackages().map((pkg) => {
    const dist = path.join(pkg.dir, "dist")
    if (!fs.existsSync(path.join(dist, "package.json"))) throw new Error(`${dist} is missing: run npm run build`)
    return [pkg.name, { dist, manifest: JSON.parse(fs.readFileSync(path.join(dist, "package.json"), "utf8")) }]
  })
)

/** Resolves `@effect-auth/<package>[/<Module>]` through the built package's `exports`. */
const fromBuild = {
  name: "effect-auth-build",
  setup(build) {
    build.onResolve({ filter: /^@effect-auth\// }, (args) => {
      const [scope, name, ...rest] = args.path.split("/")
      const pkg = built.get(`${scope}/${name}`)
      if (pkg === undefined) return { errors: [{ text: `${args.path} is not a library package` }] }
      const subpath = rest.length === 0 ? "." : `./${rest.join("/")}`
      const target = pkg.manifest.exports[subpath]?.default
      if (target === undefined) return { errors: [{ text: `${args.path} is not exported` }] }
      return { path: path.join(pkg.dist, target), sideEffects: false }
    })
  }
}

const entries = [
  {
    name: "core + occam, every module (export * of both roots)",
    contents: "export * from \"@effect-auth/core\"\nexport * from \"@effect-auth/occam\"\n"
  },
  {
    name: "occam's OccamAuth + OccamSession (and what they use of core)",
    contents: "export * as OccamAuth from \"@effect-auth/occam/OccamAuth\"\n" +
      "export * as OccamSession from \"@effect-auth/occam/OccamSession\"\n"
  },
  {
    name: "an app's imports: OccamSession.layerConfig() and OccamAuth.layerConfig()",
    contents: "import * as OccamAuth from \"@effect-auth/occam/OccamAuth\"\n" +
      "import * as OccamSession from \"@effect-auth/occam/OccamSession\"\n" +
      "export const OccamLive = [OccamSession.layerConfig(), OccamAuth.layerConfig()]\n"
  },
  { name: "nothing used (import only)", contents: "import \"@effect-auth/occam\"\n" }
]

const kB = (bytes) => `${(bytes / 1024).toFixed(1)} kB`
console.log("effect-auth build sizes (esbuild --bundle --minify, effect and @effect/platform external, gzip -9)")
for (const entry of entries) {
  const result = await esbuild.build({
    stdin: { contents: entry.contents, resolveDir: root, loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    write: false,
    external: ["effect", "effect/*", "@effect/platform", "@effect/platform/*"],
    plugins: [fromBuild],
    logLevel: "error"
  })
  const code = result.outputFiles[0].contents
  const gzipped = zlib.gzipSync(code, { level: 9 }).length
  console.log(`  ${entry.name.padEnd(72)} ${kB(code.length).padStart(9)} min ${kB(gzipped).padStart(9)} gzip`)
}
