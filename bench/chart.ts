/**
 * The scaling chart: one panel per chart (cost per caller or session against scale, the scale on
 * a log axis), one line per library, as a standalone SVG that RESULTS.md embeds.
 *
 * @since 0.1.0
 */
import type * as Scenario from "./scenario.js"
import { fmt } from "./stats.js"

const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
const width = 460
const height = 300
const margin = { left: 64, right: 16, top: 36, bottom: 120 }

const escape = (text: string): string =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("`", "")

const panel = (chart: Scenario.Chart, offsetX: number): string => {
  const xs = chart.series.flatMap((line) => line.points.map(([x]) => x))
  const ys = chart.series.flatMap((line) => line.points.map(([, y]) => y)).filter(Number.isFinite)
  const minX = Math.log10(Math.min(...xs))
  const maxX = Math.log10(Math.max(...xs))
  const maxY = Math.max(...ys) * 1.1 || 1
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  const px = (x: number) => margin.left + (maxX === minX ? plotW / 2 : (Math.log10(x) - minX) / (maxX - minX) * plotW)
  const py = (y: number) => margin.top + plotH - (y / maxY) * plotH
  const ticksY = Array.from({ length: 5 }, (_, i) => (maxY / 4) * i)
  const parts = [
    `<g transform="translate(${offsetX},0)">`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-weight="bold">${escape(chart.title)}</text>`,
    `<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${
      margin.top + plotH
    }" stroke="#333"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}" stroke="#333"/>`,
    ...ticksY.map((y) =>
      `<text x="${margin.left - 6}" y="${py(y) + 4}" text-anchor="end" font-size="11">${
        fmt(y, y < 10 ? 1 : 0)
      }</text>` +
      `<line x1="${margin.left}" y1="${py(y)}" x2="${margin.left + plotW}" y2="${py(y)}" stroke="#eee"/>`
    ),
    ...Array.from(new Set(xs)).map((x) =>
      `<text x="${px(x)}" y="${margin.top + plotH + 16}" text-anchor="middle" font-size="11">${fmt(x)}</text>`
    ),
    `<text x="${margin.left + plotW / 2}" y="${margin.top + plotH + 32}" text-anchor="middle" font-size="12">${
      escape(chart.xLabel)
    } (log scale)</text>`,
    `<text transform="translate(14,${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${
      escape(chart.unit)
    }</text>`,
    ...chart.series.map((line, i) => {
      const color = colors[i % colors.length]
      const points = line.points.filter(([, y]) => Number.isFinite(y))
      return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${
        points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")
      }"/>` +
        points.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`)
          .join("") +
        `<rect x="${margin.left}" y="${margin.top + plotH + 46 + i * 18}" width="12" height="4" fill="${color}"/>` +
        `<text x="${margin.left + 18}" y="${margin.top + plotH + 52 + i * 18}" font-size="11">${
          escape(line.name)
        }</text>`
    }),
    "</g>"
  ]
  return parts.join("\n")
}

/**
 * The SVG of `charts`, side by side.
 *
 * @since 0.1.0
 */
export const svg = (charts: ReadonlyArray<Scenario.Chart>): string =>
  [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width * charts.length}" height="${height}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...charts.map((chart, i) => panel(chart, i * width)),
    "</svg>",
    ""
  ].join("\n")
