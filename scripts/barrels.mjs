// Writes each package's `src/index.ts`: one `export * as Module from "./Module.js"` per module,
// under that module's own doc comment, as Effect's build-utils does. With `--check` it writes
// nothing and fails when a barrel is stale, so a new module cannot be forgotten.
import * as fs from "node:fs"
import * as path from "node:path"

const check = process.argv.includes("--check")
const root = path.join(import.meta.dirname, "..", "packages")
let stale = []

for (const pkg of fs.readdirSync(root).sort()) {
  const src = path.join(root, pkg, "src")
  if (!fs.existsSync(src)) continue
  const modules = fs.readdirSync(src)
    .filter((file) => file.endsWith(".ts") && file !== "index.ts")
    .sort()
  const parts = modules.map((file) => {
    const text = fs.readFileSync(path.join(src, file), "utf8")
    const comment = text.match(/^\/\*\*[\s\S]*?\*\//)?.[0] ?? "/**\n * @since 0.1.0\n */"
    const name = file.slice(0, -3)
    return `${comment}\nexport * as ${name} from "./${name}.js"\n`
  })
  const barrel = parts.join("\n")
  const target = path.join(src, "index.ts")
  const current = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : ""
  if (current === barrel) continue
  if (check) stale.push(path.relative(process.cwd(), target))
  else fs.writeFileSync(target, barrel)
}

if (stale.length > 0) {
  console.error(`Stale barrels (run npm run codegen): ${stale.join(", ")}`)
  process.exit(1)
}
