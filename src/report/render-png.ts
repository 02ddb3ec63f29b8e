import { createCanvas } from '@napi-rs/canvas'
import { Chart, registerables, type ChartConfiguration, type Plugin } from 'chart.js'
import type { WhatIfResult } from '../cost/types.ts'
import { buildCharts, COLORS, type ChartSpec } from './charts.ts'
import type { Report } from './report.ts'

/**
 * The report's charts as PNG images: Chart.js drawing on @napi-rs/canvas (Skia, prebuilt, no system
 * cairo). Fixed size, white background, no animation, device pixel ratio 1: the same chart spec gives the
 * same pixels. Text uses Liberation Sans (installed with Chromium, which the HTML tests need anyway),
 * falling back to DejaVu Sans.
 */
export const PNG_WIDTH = 900
export const PNG_HEIGHT = 420

Chart.register(...registerables)
Chart.defaults.font.family = "'Liberation Sans', 'DejaVu Sans', Arial, sans-serif"
Chart.defaults.font.size = 12
Chart.defaults.color = COLORS.text

/** Paints the canvas white before anything else: a PNG is transparent by default. */
const whiteBackground: Plugin = {
  id: 'cancelbench-white-background',
  beforeDraw(chart) {
    const { ctx, width, height } = chart
    ctx.save()
    ctx.globalCompositeOperation = 'destination-over'
    ctx.fillStyle = '#ffffff'
    ctx.fillRect(0, 0, width, height)
    ctx.restore()
  },
}

/**
 * One chart as PNG bytes.
 * @example writeFileSync('latency.png', renderChartPng(latencyHistogram(report)))
 */
export function renderChartPng(spec: ChartSpec, size: { width: number; height: number } = { width: PNG_WIDTH, height: PNG_HEIGHT }): Uint8Array {
  const canvas = createCanvas(size.width, size.height)
  // Chart.js writes its resolved state into the config it is given: draw a copy.
  const config = structuredClone(spec.config) as unknown as ChartConfiguration
  config.options = {
    ...config.options,
    responsive: false,
    animation: false,
    devicePixelRatio: 1,
    layout: { padding: { top: 4, right: 16, bottom: 4, left: 8 } },
    plugins: {
      ...config.options?.plugins,
      title: { display: true, text: spec.title, color: COLORS.text, font: { size: 16, weight: 'bold' }, padding: { top: 6, bottom: 2 } },
      subtitle: { display: spec.subtitle !== '', text: spec.subtitle, color: '#4b5563', font: { size: 12 }, padding: { bottom: 10 } },
    },
  }
  config.plugins = [whiteBackground]
  // Chart.js takes a DOM canvas context; @napi-rs/canvas implements the same 2D API.
  const chart = new Chart(canvas.getContext('2d') as unknown as CanvasRenderingContext2D, config)
  try {
    return new Uint8Array(canvas.toBuffer('image/png'))
  } finally {
    chart.destroy()
  }
}

/**
 * Every chart of the report (see buildCharts) as `{ file, title, png }`.
 * @example for (const { file, png } of renderPngs(report)) writeFileSync(join(dir, file), png)
 */
export function renderPngs(report: Report, options: { whatIf?: WhatIfResult | null } = {}): { file: string; title: string; png: Uint8Array }[] {
  return buildCharts(report, options.whatIf ?? null).map((spec) => ({ file: spec.file, title: spec.title, png: renderChartPng(spec) }))
}
